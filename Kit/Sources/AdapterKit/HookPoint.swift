// SPDX-License-Identifier: Apache-2.0
import Transformer

/// The ABI version of the plugin interface. A plugin built against another version is refused.
public let adapterKitABIVersion: Int32 = 1
