// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc

/// A strategy loaded from a plugin file, with where and when it came from.
public struct LoadedPlugin: Sendable {
    public let strategy: any AdapterStrategy
    /// The file the plugin was loaded from (not the staging copy).
    public let path: String
    /// The plugin ABI version its ELF note declared (checked to equal this AdapterKit's).
    public let abiVersion: Int32
    public let loadedAt: Date
}

/// Loads adapter strategy plugins into this process (DESIGN §5.3).
///
/// Rules learned the hard way on Linux:
/// - a Swift plugin can never be unloaded (`dlclose` unmaps type metadata the runtime
///   still points at), so files are opened with `RTLD_NODELETE` and never closed;
/// - `dlopen` caches by path and crashes on a file overwritten in place, so each load
///   goes through a fresh private copy in the staging directory, removed once mapped;
/// - the ABI note and the toolchain are checked from the file before any plugin code
///   (initializers included) runs.
///
/// - Important: not thread-safe; one owner (the registry, or a worker) serializes loads.
public final class PluginLoader {
    public static let entrySymbol = "dptune_plugin_entry"
    public static let abiVersionSymbol = "dptune_plugin_abi_version"

    private let stagingDirectory: URL
    private var loaded: [String: LoadedPlugin] = [:]

    /// - Parameter stagingDirectory: a directory on a filesystem that allows execution
    ///   (not `noexec`), private to this service.
    public init(stagingDirectory: URL) throws {
        self.stagingDirectory = stagingDirectory
        try FileManager.default.createDirectory(at: stagingDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    /// Every strategy loaded so far, keyed by `id@version`.
    public var plugins: [String: LoadedPlugin] { loaded }

    /// Checks `url` without loading it: the ELF ABI note and the toolchain identity.
    ///
    /// - Returns: the ABI version the plugin was built against.
    /// - Throws: ``PluginLoadError``.
    @discardableResult
    public static func inspect(_ url: URL) throws -> Int32 {
        let path = url.path
        let elf: ELFSections
        do {
            elf = try ELFSections(contentsOf: url)
        } catch let error as ELFSections.Malformed {
            throw PluginLoadError(.notAPlugin, path: path, error.reason)
        } catch {
            throw PluginLoadError(.unreadable, path: path, "cannot read the file: \(error.localizedDescription)")
        }
        guard let noteBytes = elf.contents(of: PluginABINote.sectionName), let note = PluginABINote(bytes: noteBytes) else {
            throw PluginLoadError(.notAPlugin, path: path,
                                  "no dptune ABI note (section \(PluginABINote.sectionName)); is this a dptune plugin?")
        }
        guard note.abiVersion == adapterKitABIVersion else {
            throw PluginLoadError(.abiMismatch, path: path,
                                  "built for plugin ABI \(note.abiVersion); this dptune speaks ABI \(adapterKitABIVersion): rebuild the plugin against this Kit")
        }
        let host = hostToolchain
        if Set(host).isDisjoint(with: elf.compilerIdentities.filter(isSwiftToolchain)) {
            throw PluginLoadError(.toolchainMismatch, path: path,
                                  "built by \(elf.compilerIdentities.filter(isSwiftToolchain).first ?? "an unknown compiler"); the host was built by \(host.first ?? "an unidentified toolchain"): rebuild with the same Swift toolchain")
        }
        return note.abiVersion
    }

    /// Loads the strategy in `url`.
    ///
    /// - Throws: ``PluginLoadError``; the process is unaffected by a refused file
    ///   (except that code in a plugin's static initializers runs during `dlopen`: the
    ///   daemon therefore probes new files in a throw-away child first).
    public func load(_ url: URL) throws -> LoadedPlugin {
        let path = url.path
        let abiVersion = try Self.inspect(url)
        let staged = stagingDirectory.appendingPathComponent("\(url.deletingPathExtension().lastPathComponent)-\(UUID().uuidString).so")
        do {
            try FileManager.default.copyItem(at: url, to: staged)
        } catch {
            throw PluginLoadError(.unreadable, path: path, "cannot stage a private copy in \(stagingDirectory.path): \(error.localizedDescription)",
                                   cause: error)
        }
        defer { unlink(staged.path) }
        guard let handle = dlopen(staged.path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            throw PluginLoadError(.loadFailed, path: path, dlerror().map { String(cString: $0) } ?? "dlopen failed")
        }
        guard let versionSymbol = dlsym(handle, Self.abiVersionSymbol) else {
            throw PluginLoadError(.missingSymbol, path: path, "no \(Self.abiVersionSymbol)() symbol")
        }
        let version = unsafeBitCast(versionSymbol, to: (@convention(c) () -> Int32).self)()
        guard version == adapterKitABIVersion else {
            throw PluginLoadError(.abiMismatch, path: path,
                                  "\(Self.abiVersionSymbol)() says \(version), the ABI note and this dptune say \(adapterKitABIVersion)")
        }
        guard let entrySymbol = dlsym(handle, Self.entrySymbol) else {
            throw PluginLoadError(.missingSymbol, path: path, "no \(Self.entrySymbol)() symbol")
        }
        let object = Unmanaged<AnyObject>.fromOpaque(
            unsafeBitCast(entrySymbol, to: (@convention(c) () -> UnsafeMutableRawPointer).self)()
        ).takeRetainedValue()
        guard let strategy = object as? any AdapterStrategy else {
            throw PluginLoadError(.notAStrategy, path: path, "\(Self.entrySymbol)() returned a \(type(of: object)), not an AdapterStrategy")
        }
        let key = "\(strategy.id)@\(strategy.version)"
        if let existing = loaded[key] {
            throw PluginLoadError(.duplicate, path: path, "strategy \(key) is already provided by \(existing.path)")
        }
        let plugin = LoadedPlugin(strategy: strategy, path: path, abiVersion: abiVersion, loadedAt: Date())
        loaded[key] = plugin
        return plugin
    }

    /// The Swift toolchain that built this process, from its executable's `.comment`
    /// section. The daemon, its workers and the plugins must all come from one toolchain.
    static let hostToolchain: [String] = {
        guard let elf = try? ELFSections(contentsOf: URL(fileURLWithPath: "/proc/self/exe")) else { return [] }
        return elf.compilerIdentities.filter(isSwiftToolchain)
    }()

    /// The swiftlang LLVM line identifies the exact Swift toolchain build.
    private static func isSwiftToolchain(_ identity: String) -> Bool {
        identity.contains("swiftlang") || identity.contains("Swift version")
    }
}
