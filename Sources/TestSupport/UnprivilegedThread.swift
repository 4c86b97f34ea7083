// SPDX-License-Identifier: Apache-2.0
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs code on a fresh thread whose credentials are those of `nobody`, while the rest of
/// the (root) test process keeps its own.
///
/// The tests run as root, so an unprivileged peer has to be made. On Linux credentials are
/// per thread in the kernel; glibc's `setresuid` & co. broadcast the change to every thread
/// to emulate POSIX, which would drop root from all concurrently running tests. The raw
/// system calls change only the calling thread. Swift cannot call the C-variadic `syscall`,
/// so it is looked up with `dlsym` and called through a fixed four-argument C prototype:
/// glibc's x86-64 and AArch64 `syscall` are assembly stubs that only move registers, which is
/// exactly what the fixed prototype supplies. The thread exits afterwards instead of switching
/// back, so no other work ever runs under the borrowed identity.
///
/// We chose this over a `setpriv --reuid=nobody` child process because the child would need a
/// separate client executable, and the test targets have none.
public enum UnprivilegedThread {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static let nobody: uid_t = 65534
    public static let nogroup: gid_t = 65534

    // The system call numbers (<asm/unistd.h>; Swift's Glibc module does not export SYS_*).
    #if arch(x86_64)
    private static let (setgroupsCall, setresuidCall, setresgidCall) = (116, 117, 119)
    #elseif arch(arm64)
    private static let (setgroupsCall, setresuidCall, setresgidCall) = (159, 147, 149)
    #endif

    private typealias RawSyscall = @convention(c) (Int, Int, Int, Int) -> Int

    /// Runs `body` as uid/gid `nobody`/`nogroup` with supplementary groups `groups`.
    public static func run<T: Sendable>(
        groups: [gid_t] = [], _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await BlockingThread.run {
            guard let symbol = dlsym(nil, "syscall") else {  // nil is RTLD_DEFAULT
                throw Failure(description: "syscall not found")
            }
            let rawSyscall = unsafeBitCast(symbol, to: RawSyscall.self)
            let setGroups = groups.withUnsafeBufferPointer { buffer in
                rawSyscall(setgroupsCall, buffer.count, Int(bitPattern: buffer.baseAddress), 0)
            }
            let setGID = rawSyscall(setresgidCall, Int(nogroup), Int(nogroup), Int(nogroup))
            let setUID = rawSyscall(setresuidCall, Int(nobody), Int(nobody), Int(nobody))
            guard setGroups == 0, setGID == 0, setUID == 0 else {
                throw Failure(description: "could not switch this thread to nobody (are the tests running as root?)")
            }
            return try body()
        }
    }
}
