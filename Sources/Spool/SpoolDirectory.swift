// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
#if canImport(Glibc)
import Glibc
#endif

/// The spool on disk (DESIGN §3.1): where data owners drop datasets and read the outcome.
///
/// ```
/// ROOT/
///   tmp/        writers stage files here, then rename(2) them into incoming/
///   incoming/   NAME.manifest.json first (optional), then NAME.jsonl
///   accepted/   validated; the job is queued or running
///   done/       NAME.jsonl (+ manifest) + NAME.result.json
///   rejected/   NAME.jsonl (+ manifest) + NAME.error.json {"code", "message", "line"?}
/// ```
///
/// Every folder is opened once, without following links, and checked to be on the root's
/// filesystem; all later operations are relative to those descriptors (`*at` calls), so
/// swapping a folder for a symbolic link after start-up changes nothing. A file is never
/// deleted, truncated, overwritten or read through a link: every state change is a
/// `rename(2)` (without replacing anything in the target; a name already taken gets a
/// `-1`, `-2`, ... suffix) followed by an fsync of both folders.
///
/// A move of several files (a dataset, its manifest, its outcome record) first writes its
/// plan to a journal in `tmp/`, then renames the record, the manifest and the dataset last.
/// A crash between two renames leaves the journal, and the next start completes the move
/// (``completeInterruptedMoves()``): a dataset never sits in `rejected/` or `done/` without
/// its reason, and a manifest never stays behind in `incoming/` to pair with a later
/// dataset of the same name. Those journals, staged records and staged copies (``stage()``),
/// the daemon's own scratch files in `tmp/`, are the only files it removes.
///
/// - Important: One process (the daemon) owns the spool's state changes; writers only ever
///   rename into `incoming/`. The methods are safe to call from any thread.
public final class SpoolDirectory: Sendable {
    public enum Folder: String, Sendable, CaseIterable, Codable {
        case tmp, incoming, accepted, done, rejected
    }

    /// A dataset found in a folder, with its manifest when one sits beside it.
    public struct Entry: Sendable, Hashable {
        public let name: String
        public let stem: String
        public let manifestName: String?
    }

    /// A point in a state change where a test interferes: it throws there to stand for a
    /// `kill -9`, or changes the folders to stand for a writer racing the daemon.
    enum Checkpoint: Sendable, Hashable {
        /// About to rename a file to `name` in `folder`.
        case beforeRename(Folder, String)
        /// Just renamed a file to `name` in `folder`.
        case afterRename(Folder, String)
    }

    public let root: URL
    private let descriptors: [Folder: Int32]
    private let checkpoint: @Sendable (Checkpoint) throws(SpoolError) -> Void

    /// Opens the spool at `root`, creating the root and any missing folder.
    ///
    /// - Throws: ``SpoolError`` `unusableDirectory` when a folder is a link, not a directory,
    ///   or on another filesystem than the root (rename(2) could not move between them).
    public convenience init(root: URL) throws(SpoolError) {
        try self.init(root: root) { _ throws(SpoolError) in }
    }

    /// Opens the spool with a test's `checkpoint`, called around every rename.
    init(root: URL, checkpoint: @escaping @Sendable (Checkpoint) throws(SpoolError) -> Void) throws(SpoolError) {
        self.root = root
        self.checkpoint = checkpoint
        if mkdir(root.path, 0o755) != 0 && errno != EEXIST {
            throw Self.systemError("mkdir", root.path)
        }
        let rootDescriptor = open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootDescriptor >= 0 else {
            throw SpoolError(.unusableDirectory, "cannot open the spool root \(root.path): \(Self.lastError())")
        }
        defer { close(rootDescriptor) }
        let rootDevice = try Self.device(of: rootDescriptor, root.path)
        var descriptors: [Folder: Int32] = [:]
        do throws(SpoolError) {
            for folder in Folder.allCases {
                let path = root.appendingPathComponent(folder.rawValue).path
                // Writers need tmp/ and incoming/; the daemon's own folders are read-only to others.
                let mode: mode_t = folder == .tmp || folder == .incoming ? 0o1770 : 0o755
                if mkdirat(rootDescriptor, folder.rawValue, mode) == 0 {
                    guard fsync(rootDescriptor) == 0 else { throw Self.systemError("fsync", root.path) }
                } else if errno != EEXIST {
                    throw Self.systemError("mkdir", path)
                }
                let descriptor = openat(rootDescriptor, folder.rawValue, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard descriptor >= 0 else {
                    throw SpoolError(
                        .unusableDirectory, "\(path) must be a directory, not a link or a file: \(Self.lastError())")
                }
                descriptors[folder] = descriptor
                guard try Self.device(of: descriptor, path) == rootDevice else {
                    throw SpoolError(
                        .unusableDirectory, "\(path) is on another filesystem than \(root.path); rename(2) cannot move files there")
                }
            }
        } catch {
            for descriptor in descriptors.values { close(descriptor) }
            throw error
        }
        self.descriptors = descriptors
    }

    deinit {
        for descriptor in descriptors.values { close(descriptor) }
    }

    public func url(of folder: Folder) -> URL { root.appendingPathComponent(folder.rawValue, isDirectory: true) }

    /// The names in `folder`, oldest arrival first (by change time, which rename(2) sets).
    ///
    /// The daemon calls this at start-up for `incoming/` (and `accepted/`, to resume or fail
    /// interrupted jobs), and after the watcher reports an overflow. A name that is not valid
    /// UTF-8 is left out: a `String` cannot hold it unchanged, and the lossy decoding would
    /// name no file; ``rejectUndecodableNames()`` handles those by their bytes.
    public func scan(_ folder: Folder = .incoming) throws(SpoolError) -> [String] {
        var names: [(changed: timespec, name: String)] = []
        for bytes in try rawNames(in: folder) {
            guard let name = String(validating: bytes, as: UTF8.self) else { continue }
            var status = stat()
            let changed = fstatat(descriptor(folder), name, &status, AT_SYMLINK_NOFOLLOW) == 0 ? status.st_ctim : timespec()
            names.append((changed, name))
        }
        return names.sorted { lhs, rhs in
            (lhs.changed.tv_sec, lhs.changed.tv_nsec, lhs.name) < (rhs.changed.tv_sec, rhs.changed.tv_nsec, rhs.name)
        }.map(\.name)
    }

    /// Moves every file in `incoming/` whose name is not valid UTF-8 to `rejected/`, beside
    /// an `unsafe_path` error that gives the name's bytes.
    ///
    /// Such a name cannot reach ``SpoolIntake`` (the watcher and ``scan(_:)`` leave it out),
    /// so it is found here by the bytes `readdir` gives and renamed by those bytes. In
    /// `rejected/` it is named with each byte that is not UTF-8 written `%XX` (`bad\xFF.jsonl`
    /// becomes `bad%FF.jsonl`), and a collision suffix as usual; the file itself is unchanged.
    ///
    /// - Returns: the names the files got in `rejected/`.
    public func rejectUndecodableNames() throws(SpoolError) -> [String] {
        var rejected: [String] = []
        for bytes in try rawNames(in: .incoming) where String(validating: bytes, as: UTF8.self) == nil {
            let hex = bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
            let refusal = IntakeError(
                .unsafePath,
                "the name \(SpoolName.quoted(Self.escaped(bytes, as: "\\x"))) is not valid UTF-8 (its bytes: \(hex)); "
                    + "the file was moved to rejected/ under the name with each such byte written %XX")
            do throws(SpoolError) {
                rejected.append(try move(
                    bytes, named: Self.escaped(bytes, as: "%"), pairingManifest: false, from: .incoming, to: .rejected,
                    record: (SpoolName.errorSuffix, Self.encode(refusal))))
            } catch where error.code == .noSuchEntry {
                continue  // gone since the listing
            }
        }
        return rejected
    }

    /// The names in `folder` as the kernel's bytes, without `.` and `..`.
    private func rawNames(in folder: Folder) throws(SpoolError) -> [[UInt8]] {
        // A fresh open file description (not dup): its read offset is this listing's own.
        let listing = openat(descriptor(folder), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard listing >= 0, let directory = fdopendir(listing) else {
            if listing >= 0 { close(listing) }
            throw Self.systemError("opendir", url(of: folder).path)
        }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == Array(".".utf8) || name == Array("..".utf8) { continue }
            names.append(name)
        }
        return names
    }

    /// What to do about the name `name` that appeared in `folder`.
    ///
    /// Checks the name, then the file's type with `lstat` (never following a link).
    ///
    /// - Returns: the dataset entry to process, or `nil` when there is nothing to do yet:
    ///   the file is gone, or it is a manifest whose dataset has not arrived.
    /// - Throws: ``IntakeError`` `unsafe_path` or `not_a_regular_file` (for the dataset or its
    ///   manifest); the caller rejects `name` with it.
    public func entry(named name: String, in folder: Folder = .incoming) throws(IntakeError) -> Entry? {
        let spoolName = try SpoolName(name)
        let datasetName = spoolName.datasetName
        if case .manifest = spoolName {
            try checkRegular(name, in: folder)
        }
        guard try checkRegular(datasetName, in: folder) else { return nil }
        let manifestPresent = try checkRegular(spoolName.manifestName, in: folder)
        return Entry(
            name: datasetName, stem: spoolName.stem, manifestName: manifestPresent ? spoolName.manifestName : nil)
    }

    /// Opens a dataset for reading without following links.
    ///
    /// - Returns: a descriptor the caller closes.
    /// - Throws: ``IntakeError`` `not_a_regular_file` for a link, FIFO, device, directory or
    ///   a file with other hard links; ``SpoolError`` when the file is gone.
    public func openDataset(_ entry: Entry, in folder: Folder) throws -> Int32 {
        try openRegular(entry.name, in: folder)
    }

    /// The bytes of the entry's manifest, or `nil` when it has none.
    ///
    /// - Throws: ``IntakeError`` `invalid_manifest` when it exceeds `maxBytes`,
    ///   `not_a_regular_file` when it is not a plain file.
    public func manifestData(of entry: Entry, in folder: Folder, maxBytes: Int = 1 << 20) throws -> Data? {
        guard let manifestName = entry.manifestName else { return nil }
        let descriptor = try openRegular(manifestName, in: folder)
        defer { close(descriptor) }
        guard let data = try Self.readAll(descriptor, maxBytes: maxBytes, name: manifestName) else {
            throw IntakeError(.invalidManifest, "\(manifestName) is larger than \(maxBytes) bytes")
        }
        return data
    }

    /// Moves a validated dataset (and its manifest) from `incoming/` to `accepted/`.
    ///
    /// - Returns: its name in `accepted/` (suffixed if the name was taken).
    @discardableResult
    public func accept(_ name: String) throws(SpoolError) -> String {
        try move(name, from: .incoming, to: .accepted, record: nil)
    }

    /// Moves a dataset (and its manifest) from `accepted/` back to `incoming/`, to go through
    /// intake again.
    ///
    /// For a dataset accepted for an admission whose job was never recorded (the daemon died
    /// in between): `accepted/` means a queued or running job, which it does not have, and
    /// intake validates it again and resumes its admission.
    ///
    /// - Returns: its name in `incoming/` (suffixed if the name was taken).
    @discardableResult
    public func returnToIncoming(_ name: String) throws(SpoolError) -> String {
        try move(name, from: .accepted, to: .incoming, record: nil)
    }

    /// The lower-case hex SHA-256 of the file `name` in `folder`, read without following
    /// links: which dataset the ledger admitted is known by its bytes.
    ///
    /// - Throws: ``IntakeError`` `not_a_regular_file`; ``SpoolError`` when it is gone or
    ///   cannot be read.
    public func sha256(of name: String, in folder: Folder) throws -> String {
        let file = try openRegular(name, in: folder)
        defer { close(file) }
        var hasher = SHA256()
        if let error = BoundedRead.pieces(of: file, { piece in
            hasher.update(piece)
            return true
        }) {
            throw Self.systemError("read", "\(folder.rawValue)/\(name)", error)
        }
        return hasher.hexDigest()
    }

    /// Moves a finished job's dataset from `accepted/` to `done/` beside `NAME.result.json`.
    ///
    /// - Returns: the dataset's name in `done/`.
    @discardableResult
    public func finish(_ name: String, result: some Encodable) throws(SpoolError) -> String {
        try move(name, from: .accepted, to: .done, record: (SpoolName.resultSuffix, Self.encode(result)))
    }

    /// Moves a refused file (and its manifest) to `rejected/` beside `NAME.error.json`.
    ///
    /// `name` may be any name found in `from` (an unsafe one too), as long as it names a
    /// directory entry: only `/`, `.` and `..` cannot be moved. A link is moved as the link.
    ///
    /// - Returns: the file's name in `rejected/`.
    @discardableResult
    public func reject(_ name: String, error: IntakeError, from: Folder = .incoming) throws(SpoolError) -> String {
        try move(name, from: from, to: .rejected, record: (SpoolName.errorSuffix, Self.encode(error)))
    }

    // MARK: - Moves

    /// How a file to be moved is named: a stem to suffix on collision, the extension after it,
    /// and the manifest that travels along.
    private struct Naming {
        let stem: String
        let fileExtension: String
        let hasManifest: Bool

        func names(stem: String, recordSuffix: String?) -> [String] {
            [stem + fileExtension]
                + (hasManifest ? [stem + SpoolName.manifestSuffix] : [])
                + (recordSuffix.map { [stem + $0] } ?? [])
        }
    }

    /// Which file a name stood for when a move began (a rename keeps both numbers).
    private struct Identity: Codable, Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// One rename of a move, as its journal records it.
    private struct Step: Codable {
        var from: Folder
        /// The name in `from` as the kernel's bytes: a name need not be UTF-8.
        var name: [UInt8]
        var to: Folder
        var newName: String
        var identity: Identity
    }

    /// A move's journal is `tmp/.dptuned-move-UUID.json`; a staged record or copy is `tmp/.dptuned-UUID.tmp`.
    private static let journalPrefix = ".dptuned-move-"
    private static let journalSuffix = ".json"
    private static let stagedPrefix = ".dptuned-"
    private static let stagedSuffix = ".tmp"

    private func move(
        _ name: String, from source: Folder, to target: Folder, record: (suffix: String, data: Data)?
    ) throws(SpoolError) -> String {
        try move(Array(name.utf8), named: name, pairingManifest: true, from: source, to: target, record: record)
    }

    /// Moves the entry whose name is the bytes `name`, naming it in `target` after `text`.
    ///
    /// - Parameter pairingManifest: whether a dataset's manifest goes along; not for a name
    ///   whose text is an escape of its bytes, which no manifest was named after.
    private func move(
        _ name: [UInt8], named text: String, pairingManifest: Bool, from source: Folder, to target: Folder,
        record: (suffix: String, data: Data)?
    ) throws(SpoolError) -> String {
        guard !name.isEmpty, !name.contains(UInt8(ascii: "/")), text != ".", text != ".." else {
            throw SpoolError(.noSuchEntry, "\(SpoolName.quoted(text)) cannot name a file in \(source.rawValue)/")
        }
        guard let identity = identity(of: name, in: source) else {
            throw SpoolError(.noSuchEntry, "\(SpoolName.quoted(text)) is not in \(source.rawValue)/")
        }
        let naming = naming(of: text, in: source, pairingManifest: pairingManifest)
        let manifestName = naming.stem + SpoolName.manifestSuffix
        // A manifest that vanished since the naming looked is not moved.
        let manifest = naming.hasManifest ? self.identity(of: Array(manifestName.utf8), in: source) : nil
        let staged = try record.map { record throws(SpoolError) in
            let stagedName = try write(record.data, prefix: Self.stagedPrefix, suffix: Self.stagedSuffix)
            guard let stagedIdentity = self.identity(of: Array(stagedName.utf8), in: .tmp) else {
                throw SpoolError(.systemCallFailed, "the staged record tmp/\(stagedName) vanished")
            }
            return (name: stagedName, suffix: record.suffix, identity: stagedIdentity)
        }
        var attempt = 0
        while true {
            let stem = attempt == 0 ? naming.stem : "\(naming.stem)-\(attempt)"
            attempt += 1
            let names = naming.names(stem: stem, recordSuffix: record?.suffix)
            if names.contains(where: { exists($0, in: target) }) { continue }
            // The reason first and the dataset last: whoever sees the dataset in the target
            // finds its reason and manifest beside it, and until the last rename the dataset
            // is still where the move found it.
            var steps: [Step] = []
            if let staged {
                steps.append(Step(
                    from: .tmp, name: Array(staged.name.utf8), to: target, newName: stem + staged.suffix,
                    identity: staged.identity))
            }
            if let manifest {
                steps.append(Step(
                    from: source, name: Array(manifestName.utf8), to: target, newName: stem + SpoolName.manifestSuffix,
                    identity: manifest))
            }
            steps.append(Step(
                from: source, name: name, to: target, newName: stem + naming.fileExtension, identity: identity))
            let journal = try writeJournal(steps)
            // The names were free a moment ago; only a foreign writer in the daemon's own
            // folder could take them now. Before the first rename nothing has moved, so the
            // move tries the next suffix; after it, the move stops without replacing anything
            // and leaves its journal for the next start.
            guard try rename(steps[0]) else {
                try removeJournal(journal)
                continue
            }
            for step in steps.dropFirst() {
                guard try rename(step) else {
                    throw SpoolError(.systemCallFailed, "\(step.newName) appeared in \(target.rawValue)/ while moving")
                }
            }
            try sync(target)
            try sync(source)
            if staged != nil { try sync(.tmp) }
            try removeJournal(journal)
            return names[0]
        }
    }

    /// Creates an empty file in `tmp/` under the daemon's scratch name, for a copy that
    /// arrives in pieces (an upload): ``submit(staged:manifest:stem:attempts:)`` places it,
    /// ``discard(_:)`` removes it, and the next start removes it if neither happened.
    public func stage() throws(SpoolError) -> StagedFile {
        let name = Self.stagedPrefix + UUID().uuidString + Self.stagedSuffix
        // Private data: readable by the daemon only, as a copy it makes should be.
        let file = openat(descriptor(.tmp), name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw Self.systemError("create", "tmp/\(name)") }
        return StagedFile(name: name, descriptor: file)
    }

    /// Removes a staged file that will not be placed. Best effort: what is left behind is a
    /// scratch file the next start removes.
    public func discard(_ file: StagedFile) {
        _ = unlinkat(descriptor(.tmp), file.name, 0)
    }

    /// Places a staged dataset (and its manifest) in `incoming/` as a writer would: each
    /// fsynced in `tmp/`, then renamed in, the manifest first, neither replacing anything.
    ///
    /// Staging a large dataset takes a while, and a data owner may drop a file of the same
    /// name meanwhile: the renames never replace it (`RENAME_NOREPLACE`), and a name taken at
    /// any point gets the next `-1`, `-2`, ... suffix, as the daemon's own moves do. If the
    /// dataset's name was taken after the manifest landed, the manifest is taken back to
    /// `tmp/` before the next name is tried, so that it does not stay beside the owner's
    /// dataset (staged anew from `manifest` if intake took it along meanwhile: the reason it
    /// is passed as bytes). A kill between the two renames is completed at the next start,
    /// like a move.
    ///
    /// - Parameters:
    ///   - staged: the dataset, from ``stage()``; it is either placed or, when this throws,
    ///     left in `tmp/` for the caller to ``discard(_:)``.
    ///   - stem: a stem that makes a safe ``SpoolName``; suffixes are added to it.
    ///   - attempts: how many stems to try before giving up.
    /// - Returns: the stem the dataset got: it is `incoming/STEM.jsonl`.
    /// - Throws: ``SpoolError`` when a file cannot be written or renamed, or no name is free.
    public func submit(staged dataset: StagedFile, manifest: Data?, stem: String, attempts: Int = 1000) throws(SpoolError) -> String {
        func step(_ name: String) throws(SpoolError) -> Step {
            guard let identity = identity(of: Array(name.utf8), in: .tmp) else {
                throw SpoolError(.systemCallFailed, "the staged submission tmp/\(name) vanished")
            }
            return Step(from: .tmp, name: Array(name.utf8), to: .incoming, newName: "", identity: identity)
        }
        func staged(_ data: Data) throws(SpoolError) -> Step {
            let file = try stage()
            do throws(SpoolError) {
                try file.append(data)
                try file.sync()
                return try step(file.name)
            } catch {
                discard(file)
                throw error
            }
        }
        try dataset.sync()
        var stagedManifest = try manifest.map { data throws(SpoolError) in try staged(data) }
        var stagedDataset = try step(dataset.name)
        for attempt in 0..<attempts {
            let candidate = attempt == 0 ? stem : "\(stem)-\(attempt)"
            let names = SpoolName.dataset(stem: candidate)
            guard !exists(names.datasetName, in: .incoming), !exists(names.manifestName, in: .incoming) else { continue }
            stagedDataset.newName = names.datasetName
            stagedManifest?.newName = names.manifestName
            let steps = (stagedManifest.map { [$0] } ?? []) + [stagedDataset]
            let journal = try writeJournal(steps)
            guard try rename(steps[0]) else {
                try removeJournal(journal)
                continue
            }
            if let placed = stagedManifest, try !rename(stagedDataset) {
                // An owner's dataset took the name after the manifest landed: take the
                // manifest back (unless intake already took it along) and try the next name.
                try removeJournal(journal)
                var back = false
                if identity(of: Array(placed.newName.utf8), in: .incoming) == placed.identity {
                    back = try rename(
                        Self.cName(Array(placed.newName.utf8)), from: .incoming,
                        to: String(decoding: placed.name, as: UTF8.self), in: .tmp)
                }
                try sync(.incoming)
                if !back, let manifest { stagedManifest = try staged(manifest) }
                continue
            }
            try sync(.incoming)
            try sync(.tmp)
            try removeJournal(journal)
            return candidate
        }
        // Nothing was placed and no journal names the staged manifest.
        if let stagedManifest { _ = unlinkat(descriptor(.tmp), Self.cName(stagedManifest.name), 0) }
        throw SpoolError(.systemCallFailed, "no free name in incoming/ for \(SpoolName.quoted(stem))")
    }

    /// Completes every move that a crash interrupted, from the journals left in `tmp/`.
    ///
    /// A move writes its plan (each rename, with the identity of each file) to `tmp/` and
    /// fsyncs it before its first rename, and removes it after its last, so a journal found
    /// here belongs to a move that stopped somewhere in between. Every rename still to do is
    /// done, in order: a file is moved only if it is the very file the move began with (same
    /// device and inode), so a newer file that took its name since stays where it is, and a
    /// name already taken in the target means that rename had happened. A journal that cannot
    /// be read was cut short before its fsync, when no rename had begun. Staged records that
    /// no journal mentions were never published and are removed.
    ///
    /// - Important: Call it once at start-up, before anything reads the folders, and only from
    ///   the process that owns the spool: a move in progress elsewhere would look interrupted.
    /// - Returns: `folder/name` of each dataset whose move this completed.
    public func completeInterruptedMoves() throws(SpoolError) -> [String] {
        var completed: [String] = []
        for name in try scan(.tmp) where name.hasPrefix(Self.journalPrefix) && name.hasSuffix(Self.journalSuffix) {
            let steps = readJournal(name) ?? []
            for (index, step) in steps.enumerated() {
                guard identity(of: step.name, in: step.from) == step.identity,
                      try rename(Self.cName(step.name), from: step.from, to: step.newName, in: step.to)
                else { continue }
                try sync(step.to)
                try sync(step.from)
                // The dataset moves last.
                if index == steps.count - 1 { completed.append("\(step.to.rawValue)/\(step.newName)") }
            }
            try removeJournal(name)
        }
        for name in try scan(.tmp) where name.hasPrefix(Self.stagedPrefix) && name.hasSuffix(Self.stagedSuffix) {
            guard unlinkat(descriptor(.tmp), name, 0) == 0 else { throw Self.systemError("unlink", "tmp/\(name)") }
        }
        try sync(.tmp)
        return completed
    }

    /// A safe dataset name brings its manifest along; any other name moves alone, keeping
    /// its `.jsonl` extension after a collision suffix, shortened if suffixes would not fit.
    private func naming(of name: String, in folder: Folder, pairingManifest: Bool) -> Naming {
        if case .dataset(let stem)? = try? SpoolName(name) {
            return Naming(
                stem: stem, fileExtension: SpoolName.datasetSuffix,
                hasManifest: pairingManifest && exists(stem + SpoolName.manifestSuffix, in: folder))
        }
        if name.hasSuffix(SpoolName.datasetSuffix) && name.count > SpoolName.datasetSuffix.count {
            let stem = String(name.dropLast(SpoolName.datasetSuffix.count))
            return Naming(stem: Self.truncated(stem), fileExtension: SpoolName.datasetSuffix, hasManifest: false)
        }
        return Naming(stem: Self.truncated(name), fileExtension: "", hasManifest: false)
    }

    /// Writes `data` to a new file in `tmp/` (`prefix`, a UUID, `suffix`) and fsyncs it;
    /// returns its name.
    private func write(_ data: Data, prefix: String, suffix: String) throws(SpoolError) -> String {
        let name = prefix + UUID().uuidString + suffix
        let file = openat(descriptor(.tmp), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw Self.systemError("create", "tmp/\(name)") }
        defer { close(file) }
        try Self.writeAll(data, to: file, name: "tmp/\(name)")
        guard fsync(file) == 0 else { throw Self.systemError("fsync", "tmp/\(name)") }
        return name
    }

    /// Writes all of `data` at the file's position, resuming after short writes.
    static func writeAll(_ data: Data, to file: Int32, name: String) throws(SpoolError) {
        var written = 0
        while written < data.count {
            let count = data.withUnsafeBytes { bytes in
                Glibc.write(file, bytes.baseAddress.map { $0 + written }, bytes.count - written)
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw systemError("write", name) }
            written += count
        }
    }

    /// Writes a move's plan and makes it durable before the move's first rename.
    private func writeJournal(_ steps: [Step]) throws(SpoolError) -> String {
        let data: Data
        do {
            data = try JSONEncoder().encode(steps)
        } catch {
            throw SpoolError(.systemCallFailed, "cannot encode the move's journal: \(error)")
        }
        let name = try write(data, prefix: Self.journalPrefix, suffix: Self.journalSuffix)
        try sync(.tmp)
        return name
    }

    /// The steps of the journal `tmp/name`, or nil when it was cut short.
    private func readJournal(_ name: String) -> [Step]? {
        guard let descriptor = try? openRegular(name, in: .tmp) else { return nil }
        defer { close(descriptor) }
        guard let data = try? Self.readAll(descriptor, maxBytes: 1 << 20, name: name) else { return nil }
        return try? JSONDecoder().decode([Step].self, from: data)
    }

    /// Removes a move's journal once every rename is done. Not fsynced: a journal that a
    /// crash brings back finds every file moved already, and replaying it changes nothing.
    private func removeJournal(_ name: String) throws(SpoolError) {
        guard unlinkat(descriptor(.tmp), name, 0) == 0 else { throw Self.systemError("unlink", "tmp/\(name)") }
    }

    /// Renames one step of a move, around the test's checkpoints.
    private func rename(_ step: Step) throws(SpoolError) -> Bool {
        try checkpoint(.beforeRename(step.to, step.newName))
        guard try rename(Self.cName(step.name), from: step.from, to: step.newName, in: step.to) else { return false }
        try checkpoint(.afterRename(step.to, step.newName))
        return true
    }

    /// Renames without replacing: `false` when `newName` is already taken in `target`.
    private func rename(_ name: [CChar], from source: Folder, to newName: String, in target: Folder) throws(SpoolError) -> Bool {
        let shown = "\(source.rawValue)/\(Self.shown(name)) → \(target.rawValue)/\(newName)"
        if let renameat2 = Self.renameat2 {
            if renameat2(descriptor(source), name, descriptor(target), newName, Self.renameNoReplace) == 0 { return true }
            let error = errno
            if error == EEXIST { return false }
            if error != EINVAL && error != ENOSYS { throw Self.systemError("rename", shown, error) }
        }
        // No RENAME_NOREPLACE on this filesystem: the daemon is the only one renaming into
        // its own folders, so checking first is enough there.
        if exists(newName, in: target) { return false }
        guard renameat(descriptor(source), name, descriptor(target), newName) == 0 else {
            throw Self.systemError("rename", shown)
        }
        return true
    }

    private func sync(_ folder: Folder) throws(SpoolError) {
        guard fsync(descriptor(folder)) == 0 else { throw Self.systemError("fsync", url(of: folder).path) }
    }

    // MARK: - Inspecting entries

    /// Whether `name` exists in `folder` as a regular file with one link; `false` if absent.
    ///
    /// - Throws: ``IntakeError`` `not_a_regular_file` when it exists as anything else.
    @discardableResult
    private func checkRegular(_ name: String, in folder: Folder) throws(IntakeError) -> Bool {
        var status = stat()
        guard fstatat(descriptor(folder), name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        try Self.requireRegular(status, name)
        return true
    }

    private static func requireRegular(_ status: stat, _ name: String) throws(IntakeError) {
        let kind: String? =
            switch status.st_mode & S_IFMT {
            case S_IFREG: status.st_nlink == 1 ? nil : "a file with \(status.st_nlink) hard links"
            case S_IFLNK: "a symbolic link"
            case S_IFDIR: "a directory"
            case S_IFIFO: "a FIFO"
            case S_IFSOCK: "a socket"
            case S_IFCHR, S_IFBLK: "a device node"
            default: "not a regular file"
            }
        if let kind {
            throw IntakeError(.notARegularFile, "\(SpoolName.quoted(name)) is \(kind); only plain files are read")
        }
    }

    private func openRegular(_ name: String, in folder: Folder) throws -> Int32 {
        // O_NONBLOCK: opening a FIFO swapped in after the check must not block the daemon.
        let file = openat(descriptor(folder), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard file >= 0 else {
            let error = errno
            if error == ELOOP {
                throw IntakeError(.notARegularFile, "\(SpoolName.quoted(name)) is a symbolic link; only plain files are read")
            }
            if error == ENOENT { throw SpoolError(.noSuchEntry, "\(SpoolName.quoted(name)) is not in \(folder.rawValue)/") }
            throw Self.systemError("open", "\(folder.rawValue)/\(name)", error)
        }
        var status = stat()
        do {
            guard fstat(file, &status) == 0 else { throw Self.systemError("fstat", "\(folder.rawValue)/\(name)") }
            try Self.requireRegular(status, name)
        } catch {
            close(file)
            throw error
        }
        return file
    }

    /// The identity of the entry `name` in `folder` (a link's own), or nil when it is absent.
    private func identity(of name: [UInt8], in folder: Folder) -> Identity? {
        var status = stat()
        guard fstatat(descriptor(folder), Self.cName(name), &status, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return Identity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    private func exists(_ name: String, in folder: Folder) -> Bool {
        identity(of: Array(name.utf8), in: folder) != nil
    }

    private func descriptor(_ folder: Folder) -> Int32 {
        guard let descriptor = descriptors[folder] else { fatalError("spool folder \(folder) was not opened") }
        return descriptor
    }

    // MARK: - Helpers

    private static func encode(_ value: some Encodable) throws(SpoolError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value) + Data("\n".utf8)
        } catch {
            throw SpoolError(.systemCallFailed, "cannot encode the outcome record: \(error)")
        }
    }

    /// Shortens a name so that it plus a collision and record suffix fits in NAME_MAX.
    private static func truncated(_ name: String) -> String {
        var result = ""
        for character in name {
            if result.utf8.count + String(character).utf8.count > SpoolName.maxLength { break }
            result.append(character)
        }
        return result
    }

    /// Reads an open file to its end; nil once it exceeds `maxBytes`.
    private static func readAll(_ descriptor: Int32, maxBytes: Int, name: String) throws(SpoolError) -> Data? {
        switch BoundedRead.toEnd(of: descriptor, maxBytes: maxBytes) {
        case .data(let data): return data
        case .tooLarge: return nil
        case .failed(let error): throw systemError("read", name, error)
        }
    }

    /// The name as text, each byte that is not part of a UTF-8 character written as
    /// `marker` and two upper-case hex digits.
    private static func escaped(_ bytes: [UInt8], as marker: String) -> String {
        var text = ""
        var index = 0
        while index < bytes.count {
            // A UTF-8 character is 1 to 4 bytes: the first length that decodes is one.
            var character: (text: String, length: Int)?
            for length in 1...min(4, bytes.count - index) {
                if let decoded = String(validating: bytes[index..<index + length], as: UTF8.self) {
                    character = (decoded, length)
                    break
                }
            }
            if let character {
                text += character.text
                index += character.length
            } else {
                let hex = String(bytes[index], radix: 16, uppercase: true)
                text += marker + (hex.count < 2 ? "0" + hex : hex)
                index += 1
            }
        }
        return text
    }

    /// A name's bytes as the NUL-terminated string the `*at` calls take.
    private static func cName(_ name: [UInt8]) -> [CChar] {
        name.map { CChar(bitPattern: $0) } + [0]
    }

    /// A C name for a message or a log line, escaped like ``SpoolName/quoted(_:)``.
    private static func shown(_ name: [CChar]) -> String {
        SpoolName.quoted(String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    private static func device(of descriptor: Int32, _ path: String) throws(SpoolError) -> dev_t {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw systemError("fstat", path) }
        return status.st_dev
    }

    private static func lastError(_ error: Int32 = errno) -> String { String(cString: strerror(error)) }

    private static func systemError(_ call: String, _ argument: String, _ error: Int32 = errno) -> SpoolError {
        SpoolError(.systemCallFailed, "\(call) \(argument) failed: \(lastError(error))", systemErrno: error)
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// `RENAME_NOREPLACE` from <linux/fs.h>.
    private static let renameNoReplace: UInt32 = 1
    /// glibc's `renameat2` (2.28+), looked up at run time: Swift's Glibc module does not
    /// export it (it is declared only under `_GNU_SOURCE`).
    private static let renameat2: RenameAt2? = {
        guard let symbol = dlsym(nil, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()
}
