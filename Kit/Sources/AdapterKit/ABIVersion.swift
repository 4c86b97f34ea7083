// SPDX-License-Identifier: Apache-2.0

/// The version of the plugin interface in this build of AdapterKit.
///
/// A plugin carries the version it was built against in its own binary; the loader
/// compares the two before running any plugin code (DESIGN §5.3).
public let adapterKitABIVersion: Int32 = 1
