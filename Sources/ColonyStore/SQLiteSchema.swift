import GRDB

/// The SQLite schema, as ordered migrations, and the one safe way to apply them.
///
/// GRDB's `DatabaseMigrator` reads which migrations are applied before it takes the write
/// lock, so two processes opening a fresh file at once could both decide to create the
/// tables, and the second failed with "table runs already exists". Here the check and the
/// changes happen in one exclusive transaction: a second process waits (busy timeout) and
/// then finds the migration applied. Applied migrations are recorded in GRDB's own
/// `grdb_migrations` table, so databases written by earlier versions open unchanged.
enum SQLiteSchema {
    /// Identifier and SQL of each migration, oldest first. Never edit one; append.
    static let migrations: [(id: String, sql: String)] = [
        (
            "v1",
            """
            CREATE TABLE runs (id TEXT PRIMARY KEY, agent TEXT NOT NULL, task TEXT NOT NULL,
                               status TEXT NOT NULL, answer TEXT, spec TEXT, created REAL NOT NULL);
            CREATE TABLE steps (run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL,
                                calls TEXT NOT NULL, results TEXT NOT NULL,
                                prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                                PRIMARY KEY (run_id, idx));
            CREATE TABLE pending_calls (run_id TEXT NOT NULL REFERENCES runs(id), step INTEGER NOT NULL,
                                        position INTEGER NOT NULL, name TEXT NOT NULL, arguments TEXT NOT NULL,
                                        PRIMARY KEY (run_id, step, position));
            CREATE TABLE memories (id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL,
                                   text TEXT NOT NULL, created REAL NOT NULL);
            CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', content_rowid='id');
            CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
                INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
            END;
            """
        ),
        (
            "v2-registry",
            """
            CREATE TABLE model_versions (id TEXT PRIMARY KEY, digest TEXT NOT NULL, name TEXT NOT NULL, parent TEXT,
                                         config TEXT, data_digest TEXT, eval TEXT, run TEXT, created REAL NOT NULL);
            CREATE INDEX model_versions_name ON model_versions(name, created);
            CREATE TABLE model_refs (name TEXT NOT NULL, ref TEXT NOT NULL, version TEXT NOT NULL REFERENCES model_versions(id),
                                     PRIMARY KEY (name, ref));
            CREATE TABLE model_ref_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, ref TEXT NOT NULL,
                                        from_version TEXT, to_version TEXT NOT NULL, action TEXT NOT NULL,
                                        who TEXT NOT NULL, why TEXT, at REAL NOT NULL);
            """
        ),
    ]

    /// Applies the migrations `db` lacks, all or none, holding the write lock throughout.
    static func migrate(_ db: Database) throws {
        try db.inTransaction(.exclusive) {
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            let applied = Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
            for migration in migrations where !applied.contains(migration.id) {
                try db.execute(sql: migration.sql)
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [migration.id])
            }
            return .commit
        }
    }
}
