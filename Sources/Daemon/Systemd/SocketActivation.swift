// SPDX-License-Identifier: Apache-2.0
import Glibc

/// File descriptors passed by the service manager (`sd_listen_fds(3)`), without libsystemd.
public enum SocketActivation {
    /// The first passed descriptor; the protocol fixes it at 3.
    public static let firstDescriptor: Int32 = 3

    /// The descriptors passed to this process, or none.
    ///
    /// `LISTEN_PID` must name this process, so that a child that inherited the variables
    /// does not take its parent's sockets.
    public static func listenDescriptors(environment: [String: String], pid: Int32 = getpid()) -> [Int32] {
        guard let listenPID = environment["LISTEN_PID"].flatMap(Int32.init), listenPID == pid,
              let count = environment["LISTEN_FDS"].flatMap(Int32.init), count > 0
        else { return [] }
        return (0..<count).map { firstDescriptor + $0 }
    }
}
