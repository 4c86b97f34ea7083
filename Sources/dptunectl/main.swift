// SPDX-License-Identifier: Apache-2.0
import Foundation

exit(DPTuneCtl.exitStatus(arguments: Array(CommandLine.arguments.dropFirst())))
