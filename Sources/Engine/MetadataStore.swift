import Foundation
import Glibc
import GRDB

/// The engine's persistent metadata: SQLite (WAL, busy timeout) under `<root>/engine/berth.db`, as podman 5
/// keeps it. Rows carry their record as JSON beside the columns that must be unique or looked up, so the
/// record can grow without migrations; the name's UNIQUE constraint is what makes `--name` race-free.
public final class MetadataStore: Sendable {
    let queue: DatabaseQueue

    public init(path: String) throws(EngineError) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(sql: """
                    CREATE TABLE containers (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE,
                                             created TEXT NOT NULL, data BLOB NOT NULL);
                    CREATE TABLE volumes (name TEXT PRIMARY KEY NOT NULL, created TEXT NOT NULL, data BLOB NOT NULL);
                    """)
            }
            // Two first commands at once would both create the tables: the migration runs under a file lock.
            let lock = open(path + ".migrate-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if lock >= 0 { while flock(lock, LOCK_EX) != 0 && errno == EINTR {} }
            defer { if lock >= 0 { close(lock) } }
            try migrator.migrate(queue)
        } catch {
            throw EngineError("opening the metadata database \(path)", "\(error)")
        }
    }

    // MARK: containers

    /// Adds a container; fails with docker's message when the name is taken.
    func insert(_ record: ContainerInfo) throws(EngineError) {
        let data = try Self.encode(record)
        do {
            try queue.write { db in
                try db.execute(sql: "INSERT INTO containers (id, name, created, data) VALUES (?, ?, ?, ?)",
                               arguments: [record.Id, record.Name, record.Created, data])
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            let holder = (try? container(named: record.Name))?.Id ?? "another container"
            throw EngineError("Conflict", "The container name \"/\(record.Name)\" is already in use by container \"\(holder)\". "
                + "You have to remove (or rename) that container to be able to reuse that name.")
        } catch {
            throw EngineError("saving container \(record.Name)", "\(error)")
        }
    }

    func update(_ record: ContainerInfo) throws(EngineError) {
        let data = try Self.encode(record)
        do {
            try queue.write { db in
                try db.execute(sql: "UPDATE containers SET name = ?, data = ? WHERE id = ?",
                               arguments: [record.Name, data, record.Id])
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw EngineError("Conflict", "The container name \"/\(record.Name)\" is already in use")
        } catch {
            throw EngineError("saving container \(record.Name)", "\(error)")
        }
    }

    func deleteContainer(id: String) throws(EngineError) {
        do { try queue.write { db in try db.execute(sql: "DELETE FROM containers WHERE id = ?", arguments: [id]) } } catch {
            throw EngineError("removing container \(id) from the database", "\(error)")
        }
    }

    func containers() throws(EngineError) -> [ContainerInfo] {
        do {
            return Self.decode(try queue.read { db in try Data.fetchAll(db, sql: "SELECT data FROM containers ORDER BY created DESC") })
        } catch {
            throw EngineError("reading containers", "\(error)")
        }
    }

    func container(id: String) throws(EngineError) -> ContainerInfo? {
        try fetchOne(sql: "SELECT data FROM containers WHERE id = ?", argument: id)
    }

    func container(named name: String) throws(EngineError) -> ContainerInfo? {
        try fetchOne(sql: "SELECT data FROM containers WHERE name = ?", argument: name)
    }

    /// Containers whose ID starts with `prefix`.
    func containers(idPrefix prefix: String) throws(EngineError) -> [ContainerInfo] {
        do {
            return Self.decode(try queue.read { db in
                try Data.fetchAll(db, sql: "SELECT data FROM containers WHERE substr(id, 1, ?) = ?", arguments: [prefix.count, prefix])
            })
        } catch {
            throw EngineError("reading containers", "\(error)")
        }
    }

    private func fetchOne(sql: String, argument: String) throws(EngineError) -> ContainerInfo? {
        do {
            let data = try queue.read { db in try Data.fetchOne(db, sql: sql, arguments: [argument]) }
            guard let data else { return nil }
            return try JSONDecoder().decode(ContainerInfo.self, from: data)
        } catch {
            throw EngineError("reading container \(argument)", "\(error)")
        }
    }

    // MARK: volumes

    /// Adds a volume unless one of that name exists; returns the stored one.
    @discardableResult
    func insertVolume(_ volume: VolumeRecord) throws(EngineError) -> VolumeRecord {
        let data = try Self.encode(volume)
        do {
            try queue.write { db in
                try db.execute(sql: "INSERT OR IGNORE INTO volumes (name, created, data) VALUES (?, ?, ?)",
                               arguments: [volume.Name, volume.CreatedAt, data])
            }
        } catch {
            throw EngineError("saving volume \(volume.Name)", "\(error)")
        }
        return (try self.volume(named: volume.Name)) ?? volume
    }

    func volume(named name: String) throws(EngineError) -> VolumeRecord? {
        do {
            let data = try queue.read { db in try Data.fetchOne(db, sql: "SELECT data FROM volumes WHERE name = ?", arguments: [name]) }
            guard let data else { return nil }
            return try JSONDecoder().decode(VolumeRecord.self, from: data)
        } catch {
            throw EngineError("reading volume \(name)", "\(error)")
        }
    }

    func volumes() throws(EngineError) -> [VolumeRecord] {
        do {
            let rows = try queue.read { db in try Data.fetchAll(db, sql: "SELECT data FROM volumes ORDER BY name") }
            return rows.compactMap { try? JSONDecoder().decode(VolumeRecord.self, from: $0) }
        } catch {
            throw EngineError("reading volumes", "\(error)")
        }
    }

    func deleteVolume(named name: String) throws(EngineError) {
        do { try queue.write { db in try db.execute(sql: "DELETE FROM volumes WHERE name = ?", arguments: [name]) } } catch {
            throw EngineError("removing volume \(name)", "\(error)")
        }
    }

    /// Container rows' records (a row that no longer decodes is skipped rather than failing every listing).
    private static func decode(_ rows: [Data]) -> [ContainerInfo] {
        let decoder = JSONDecoder()
        return rows.compactMap { try? decoder.decode(ContainerInfo.self, from: $0) }
    }

    static func encode<T: Encodable>(_ value: T) throws(EngineError) -> Data {
        do { return try JSONEncoder().encode(value) } catch { throw EngineError("encoding \(T.self)", "\(error)") }
    }
}
