// SPDX-License-Identifier: Apache-2.0
import AdapterKit
@testable import Daemon
import Foundation
import Records
import Testing
import Transformer

/// Which failures are the host's: those a job or dataset must not be blamed for.
@Suite struct ResourceShortageTests {
    /// Foundation's own error for a write that ran out of space, as a full disk raises it
    /// (`/dev/full` answers every write with `ENOSPC`), also behind the weights file that a
    /// full adapters disk refused at publication, after the whole run.
    @Test func aWriteToAFullDeviceIsAShortage() throws {
        let error = try #require(#expect(throws: (any Error).self) {
            try Data("weights".utf8).write(to: URL(fileURLWithPath: "/dev/full"))
        })
        #expect(ResourceShortage.caused(error), "\(error)")
        #expect(ResourceShortage.caused(SafetensorsError(.cannotWrite, "adapter_model.safetensors", cause: error)))
        #expect(!ResourceShortage.caused(SafetensorsError(.cannotWrite, "cannot encode header")))
    }

    @Test func shortagesAreFoundThroughTheErrorsThatWrapThem() {
        let full = NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))
        #expect(ResourceShortage.caused(POSIXError(.EDQUOT)))
        #expect(ResourceShortage.caused(NSError(domain: NSPOSIXErrorDomain, code: Int(EMFILE))))
        #expect(ResourceShortage.caused(NSError(domain: NSCocoaErrorDomain, code: 512, userInfo: [NSUnderlyingErrorKey: full])))
        #expect(ResourceShortage.caused(PluginLoadError(.unreadable, path: "/p/lib.so", "cannot stage a private copy", cause: full)))
    }

    @Test func otherFailuresAreTheJobs() {
        #expect(!ResourceShortage.caused(POSIXError(.ENOENT)))
        #expect(!ResourceShortage.caused(POSIXError(.ENOMEM)), "a job too large for the host would be postponed for good")
        #expect(!ResourceShortage.caused(NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES))))
        #expect(!ResourceShortage.caused(PluginLoadError(.unreadable, path: "/p/lib.so", "cannot stage a private copy")))
        #expect(!ResourceShortage.caused(IntakeError(.invalidManifest, "rank must be at least 1")))
    }
}
