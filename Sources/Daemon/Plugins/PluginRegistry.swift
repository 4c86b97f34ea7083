// SPDX-License-Identifier: Apache-2.0
import Foundation
import Logging
import Records
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The plugins the daemon offers, with hot swap (DESIGN §5.3).
///
/// Each file in the plugin directory is probed in a child process. An accepted build is
/// copied, content-addressed, into the version store, and becomes the *current* version
/// of its strategy id for new jobs. A job takes the version current at its start and its
/// worker loads that stored copy, so replacing or deleting the file in the plugin
/// directory never touches a running job. A replaced version stays listed as *retired*
/// while jobs still use it.
///
/// A current version whose file a rescan no longer finds is *withdrawn*: an operator who
/// removes a plugin means it to take no more work, so intake no longer offers its strategy,
/// while jobs already admitted for it (charged, maybe queued behind others) still run on
/// its stored copy. The file put back makes it current again. What is offered is written to
/// the version store after every change, so that a restart can withdraw, rather than
/// forget, a build that queued jobs were admitted for (``restoreWithdrawn(strategies:)``).
public actor PluginRegistry {
    /// One build of one strategy, as the registry holds it.
    public struct Version: Sendable, Equatable {
        public let description: PluginDescription
        /// The immutable copy workers load.
        public let storedFile: URL
        public let sha256: String
        public let loadedAt: Date
        public var key: String { "\(description.id)@\(description.version)#\(sha256.prefix(12))" }
    }

    /// A row of `dptunectl plugins`.
    public struct Listing: Sendable, Equatable {
        public enum State: String, Sendable { case current, retired, withdrawn, refused }
        public let id: String?
        public let version: String?
        public let file: String
        public let state: State
        public let loadedAt: Date?
        public let reason: String?
        public let jobs: [String]
    }

    private let pluginDirectory: URL
    private let versionStore: URL
    /// The current and withdrawn versions as last offered (``OfferedVersion``).
    private let offeredFile: URL
    /// What the previous run offered, read before this run's first scan rewrites it.
    private var offeredBefore: [OfferedVersion]
    private let stagingDirectory: URL
    private let probeExecutable: URL
    private let maxPluginBytes: Int
    /// Where the operator reads what became current, was refused or withdrawn.
    private let logger: Logger?

    /// Strategy id → its current version.
    private var current: [String: Version] = [:]
    /// Which source file in the plugin directory each current version came from.
    private var sourceFile: [String: String] = [:]
    /// Replaced versions still used by jobs, by key.
    private var retired: [String: Version] = [:]
    /// Strategy id → the version whose file a rescan no longer found, and that file.
    private var withdrawn: [String: (version: Version, file: String)] = [:]
    /// Version key → ids of the jobs using it.
    private var users: [String: Set<String>] = [:]
    /// Plugin file path → why it was refused.
    private var refused: [String: PluginRefusal] = [:]
    /// The scan or file change being examined: the next waits for it, so two never apply
    /// their probes' answers interleaved.
    private var examination: Task<Void, Never>?
    /// Set by ``stop()``: probes still running are killed and their files left unjudged.
    private let stopping = Atomic(false)

    /// - Parameters:
    ///   - pluginDirectory: where operators drop `.so` files.
    ///   - stateDirectory: a private directory on an exec-allowed filesystem; the registry
    ///     keeps its version store and probe staging area under it.
    ///   - probeExecutable: the `dptuned` binary, run as `dptuned plugin probe FILE`.
    ///   - maxPluginBytes: a larger file is refused unread (the registry holds a file whole
    ///     to hash and store it; a release plugin is a few hundred KiB).
    public init(pluginDirectory: URL, stateDirectory: URL, probeExecutable: URL, maxPluginBytes: Int = 64 << 20,
                logger: Logger? = nil) throws {
        self.pluginDirectory = pluginDirectory
        self.logger = logger
        versionStore = stateDirectory.appendingPathComponent("plugin-versions", isDirectory: true)
        stagingDirectory = stateDirectory.appendingPathComponent("plugin-staging", isDirectory: true)
        self.probeExecutable = probeExecutable
        self.maxPluginBytes = maxPluginBytes
        for dir in [versionStore, stagingDirectory] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        offeredFile = versionStore.appendingPathComponent("offered.json")
        offeredBefore = (try? Data(contentsOf: offeredFile)).flatMap { try? JSONDecoder().decode([OfferedVersion].self, from: $0) } ?? []
    }

    /// Probes every `.so` in the plugin directory (start-up and `plugins reload`), withdraws
    /// the current versions whose file is gone, and forgets the refusals of files no longer
    /// there: a swap staged beside the plugins left its staging name listed as refused until
    /// a restart.
    public func scan() async {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: pluginDirectory.path)) ?? []
        let files = names.sorted().filter { $0.hasSuffix(".so") }.map { pluginDirectory.appendingPathComponent($0) }
        let present = Set(files.map(\.path))
        refused = refused.filter { present.contains($0.key) }
        for file in Set(sourceFile.values) where !present.contains(file) {
            withdrawStrategies(from: file)
        }
        await examineInTurn(files)
    }

    /// Reacts to a new or rebuilt file in the plugin directory.
    public func fileChanged(_ file: URL) async {
        await examineInTurn([file])
    }

    /// Kills the probes still running (their files are neither accepted nor refused) and
    /// runs no more: a stopping daemon must not wait out a hung plugin's deadline.
    public nonisolated func stop() {
        stopping.store(true, ordering: .relaxed)
    }

    private func examineInTurn(_ files: [URL]) async {
        let previous = examination
        let current = Task {
            await previous?.value
            await self.examine(files)
        }
        examination = current
        await current.value
        recordOffered()
    }

    /// Withdraws again, after a restart, the last offered build of each strategy in `needed`
    /// (those of the jobs still queued or running) that no file in the plugin directory
    /// provides now: those jobs were admitted and charged for it, and would otherwise fail
    /// for want of a plugin. Call it after the start-up ``scan()``.
    public func restoreWithdrawn(strategies needed: Set<String>) {
        for entry in offeredBefore where needed.contains(entry.description.id)
            && current[entry.description.id] == nil && withdrawn[entry.description.id] == nil {
            let stored = versionStore.appendingPathComponent("\(entry.sha256).so")
            guard FileManager.default.fileExists(atPath: stored.path) else { continue }
            let version = Version(description: entry.description, storedFile: stored, sha256: entry.sha256, loadedAt: entry.loadedAt)
            withdrawn[entry.description.id] = (version, entry.file)
            logger?.notice("plugin withdrawn again at start-up for the jobs admitted for it",
                           metadata: ["dptune.strategy": "\(version.key)", "dptune.plugin": "\(entry.file)"])
        }
        offeredBefore = []
        recordOffered()
    }

    /// One current or withdrawn version, as `offered.json` keeps it.
    private struct OfferedVersion: Codable {
        let file: String
        let sha256: String
        let loadedAt: Date
        let description: PluginDescription

        init(_ version: Version, file: String) {
            self.file = file
            sha256 = version.sha256
            loadedAt = version.loadedAt
            description = version.description
        }
    }

    /// Writes what is offered now; a failure (a full state disk) only loses what a restart
    /// could have withdrawn instead of forgetting, so it does not stop the registry.
    private func recordOffered() {
        let offered = current.map { id, version in OfferedVersion(version, file: sourceFile[id] ?? version.description.path) }
            + withdrawn.values.map { version, file in OfferedVersion(version, file: file) }
        guard let data = try? JSONEncoder().encode(offered.sorted { $0.description.id < $1.description.id }) else { return }
        try? AtomicFile.write(data, to: offeredFile)
    }

    /// A file read, hashed and stored, waiting for its probe.
    private struct Candidate: Sendable {
        let path: String
        let digest: String
        let stored: URL
    }

    /// Probes `files` at the same time (at most four at once), so hung plugins cost a scan
    /// one deadline rather than one each, and applies each answer once every earlier file's
    /// is in: the order given decides between two files offering the same strategy id.
    ///
    /// The actor is free while the probes run: intake, `dptunectl plugins` and job starts
    /// see the versions as they stand.
    private func examine(_ files: [URL]) async {
        guard !stopping.load(ordering: .relaxed) else { return }
        let candidates = files.compactMap(candidate)
        let (executable, staging) = (probeExecutable, stagingDirectory)
        let callOff: @Sendable () -> Bool = { [self] in stopping.load(ordering: .relaxed) }
        // nil until answered; an answer of nil is a probe called off.
        var answers = [Result<PluginDescription, PluginRefusal>??](repeating: nil, count: candidates.count)
        var applied = 0
        await withTaskGroup(of: (Int, Result<PluginDescription, PluginRefusal>?).self) { group in
            var next = 0
            func startNext() {
                guard next < candidates.count else { return }
                let (index, stored) = (next, candidates[next].stored)
                next += 1
                group.addTask {
                    (index, try? await PluginProbe.probe(file: stored, executable: executable,
                                                        stagingDirectory: staging, callOff: callOff))
                }
            }
            for _ in 0..<4 { startNext() }
            for await (index, answer) in group {
                answers[index] = .some(answer)
                while applied < candidates.count, let answer = answers[applied] {
                    if let answer { apply(answer, to: candidates[applied]) }
                    applied += 1
                }
                startNext()
            }
        }
    }

    /// Reads `file` and stores the exact bytes hashed, so what runs is what was checked;
    /// nil when there is nothing to probe (refused unread, or already current from this file).
    private func candidate(_ file: URL) -> Candidate? {
        let path = file.path
        let bytes: Data
        switch Self.readPluginFile(path, maxBytes: maxPluginBytes) {
        case .success(let data):
            bytes = data
        case .failure(let refusal):
            refuse(refusal)
            withdrawStrategies(from: path)
            return nil
        }
        let digest = SHA256.hexDigest(of: bytes)
        if let (id, back) = withdrawn.first(where: { $0.value.version.sha256 == digest && $0.value.file == path }),
           current[id] == nil {
            // The withdrawn build put back under its name: current again, as it was.
            withdrawn[id] = nil
            current[id] = back.version
            sourceFile[id] = path
            refused[path] = nil
            logger?.notice("plugin current again", metadata: ["dptune.strategy": "\(back.version.key)", "dptune.plugin": "\(path)"])
            return nil
        }
        if let existing = current.values.first(where: { $0.sha256 == digest }), sourceFile[existing.description.id] == path {
            // The current build is back under its name (a swap undone): what was refused
            // there meanwhile no longer is.
            refused[path] = nil
            return nil
        }
        let stored = versionStore.appendingPathComponent("\(digest).so")
        if !FileManager.default.fileExists(atPath: stored.path) {
            let temporary = versionStore.appendingPathComponent(".\(digest).\(UUID().uuidString)")
            do {
                try bytes.write(to: temporary)
                try FileManager.default.moveItem(at: temporary, to: stored)
            } catch {
                try? FileManager.default.removeItem(at: temporary)
                refuse(PluginRefusal(path: path, code: "unreadable", message: "cannot store a copy: \(error)"))
                withdrawStrategies(from: path)
                return nil
            }
        }
        return Candidate(path: path, digest: digest, stored: stored)
    }

    private func apply(_ answer: Result<PluginDescription, PluginRefusal>, to candidate: Candidate) {
        let path = candidate.path
        switch answer {
        case .failure(let refusal):
            refuse(PluginRefusal(path: path, code: refusal.code, message: refusal.message))
            withdrawStrategies(from: path)
        case .success(let probed):
            let id = probed.id
            withdrawStrategies(from: path, except: id)
            if let owner = sourceFile[id], owner != path, FileManager.default.fileExists(atPath: owner) {
                refuse(PluginRefusal(path: path, code: "duplicate", message: "strategy id \(id) is already provided by \(owner)"))
                return
            }
            refused[path] = nil
            if let previous = current[id] { retire(previous) }
            if let previous = withdrawn.removeValue(forKey: id) { retire(previous.version) }
            let version = Version(description: probed, storedFile: candidate.stored, sha256: candidate.digest, loadedAt: Date())
            current[id] = version
            sourceFile[id] = path
            logger?.notice("plugin current for new jobs", metadata: ["dptune.strategy": "\(version.key)", "dptune.plugin": "\(path)"])
        }
    }

    /// Lists the file as refused, and tells the operator why.
    private func refuse(_ refusal: PluginRefusal) {
        refused[refusal.path] = refusal
        logger?.warning("plugin refused", metadata: [
            "dptune.plugin": "\(refusal.path)", "dptune.code": "\(refusal.code)", "dptune.reason": "\(refusal.message)",
        ])
    }

    /// Withdraws the strategies whose current build came from `path`, other than `kept`:
    /// the file now holds something else (another strategy's build, one refused, or nothing
    /// readable), so no file in the directory provides them any more.
    private func withdrawStrategies(from path: String, except kept: String? = nil) {
        for (id, file) in sourceFile where file == path && id != kept {
            if let version = current.removeValue(forKey: id) {
                withdrawn[id] = (version, file)
                logger?.warning("plugin withdrawn: its file no longer provides it; no new job takes it, jobs admitted before run on it",
                                metadata: ["dptune.strategy": "\(version.key)", "dptune.plugin": "\(file)"])
            }
            sourceFile[id] = nil
        }
    }

    /// The version a new job of strategy `id` uses, recorded as in use by `job`: the current
    /// one, or the withdrawn one, which only jobs admitted before its withdrawal ask for.
    public func acquire(strategy id: String, job: String) -> Version? {
        guard let version = current[id] ?? withdrawn[id]?.version else { return nil }
        users[version.key, default: []].insert(job)
        return version
    }

    /// Tells the registry a job has ended; a retired version nobody uses is dropped.
    public func release(job: String) {
        for key in Array(users.keys) {
            users[key]?.remove(job)
            if users[key]?.isEmpty == true {
                users[key] = nil
                retired[key] = nil
            }
        }
    }

    public var strategyIDs: [String] { current.keys.sorted() }

    /// What intake needs of the current versions, and which strategies were withdrawn.
    public var catalog: StrategyCatalog {
        var catalog = StrategyCatalog(Array(current.values))
        catalog.withdrawnFiles = withdrawn.mapValues(\.file)
        return catalog
    }

    /// Every current, retired, withdrawn and refused plugin, for `dptunectl plugins`.
    public func listing() -> [Listing] {
        func row(_ v: Version, _ state: Listing.State, file: String? = nil, reason: String? = nil) -> Listing {
            Listing(id: v.description.id, version: v.description.version,
                    file: file ?? (state == .current ? (sourceFile[v.description.id] ?? v.description.path) : v.storedFile.path),
                    state: state, loadedAt: v.loadedAt, reason: reason, jobs: (users[v.key] ?? []).sorted())
        }
        return current.values.sorted { $0.description.id < $1.description.id }.map { row($0, .current) }
            + retired.values.sorted { $0.key < $1.key }.map { row($0, .retired) }
            + withdrawn.sorted { $0.key < $1.key }.map {
                row($0.value.version, .withdrawn, file: $0.value.file,
                    reason: "its file no longer provides it (removed or replaced): no new job takes it; jobs admitted before run on it")
            }
            + refused.values.sorted { $0.path < $1.path }.map {
                Listing(id: nil, version: nil, file: $0.path, state: .refused, loadedAt: nil,
                        reason: "\($0.code): \($0.message)", jobs: [])
            }
    }

    private func retire(_ version: Version) {
        if users[version.key]?.isEmpty == false { retired[version.key] = version }
    }

    /// Reads the plugin file at `path` whole, if it is a regular file of at most `maxBytes`.
    ///
    /// Whatever turns up in the plugin directory under a `.so` name reaches here, and the
    /// registry holds the file in memory to hash and store it: a file of gigabytes is refused
    /// unread, and a FIFO or a device (directly or through a link) is refused without being
    /// opened or blocking the registry, each with a reason an operator can act on. A symbolic
    /// link is followed, as packaging links versioned builds, but what it names must be a
    /// regular file too. The type is checked before opening and again on the open,
    /// non-blocking descriptor, which is what is read.
    static func readPluginFile(_ path: String, maxBytes: Int) -> Result<Data, PluginRefusal> {
        func refusal(_ code: String, _ message: String) -> Result<Data, PluginRefusal> {
            .failure(PluginRefusal(path: path, code: code, message: message))
        }
        func regularFileProblem(_ status: stat) -> Result<Data, PluginRefusal>? {
            let kind: String
            switch status.st_mode & S_IFMT {
            case S_IFREG:
                guard status.st_size <= maxBytes else {
                    return refusal("too_large", "the file has \(status.st_size) bytes; a plugin may have at most \(maxBytes)")
                }
                return nil
            case S_IFIFO: kind = "a FIFO"
            case S_IFCHR: kind = "a character device"
            case S_IFBLK: kind = "a block device"
            case S_IFSOCK: kind = "a socket"
            case S_IFDIR: kind = "a directory"
            default: kind = "not a regular file"
            }
            return refusal("not_a_regular_file", "the file (or what its link names) is \(kind); only regular files are loaded")
        }
        var status = stat()
        guard stat(path, &status) == 0 else {
            return refusal("unreadable", "cannot read the file: \(String(cString: strerror(errno)))")
        }
        if let problem = regularFileProblem(status) { return problem }
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else {
            return refusal("unreadable", "cannot open the file: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fstat(descriptor, &status) == 0 else {
            return refusal("unreadable", "cannot read the file: \(String(cString: strerror(errno)))")
        }
        if let problem = regularFileProblem(status) { return problem }
        switch BoundedRead.toEnd(of: descriptor, maxBytes: maxBytes) {
        case .data(let data): return .success(data)
        case .tooLarge: return refusal("too_large", "the file grew past \(maxBytes) bytes while it was read")
        case .failed(let error): return refusal("unreadable", "cannot read the file: \(String(cString: strerror(error)))")
        }
    }
}
