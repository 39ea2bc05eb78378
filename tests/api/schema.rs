//! The two stores' schemas agree: the same tables, the same columns with the same
//! nullability, and the same indexes (by name and columns), after every migration. A
//! migration written for one store only shows up here.

use std::collections::BTreeMap;

use sqlx::{Connection as _, Row as _};

use crate::helpers::{Backend, Options, database_url, spawn_on};

/// table → (columns: name → nullable, indexes: name → columns)
type Schema = BTreeMap<String, (BTreeMap<String, bool>, BTreeMap<String, Vec<String>>)>;

/// Tables that belong to the migration tool, not to latchkey.
fn ours(table: &str) -> bool {
    !table.starts_with("_sqlx") && !table.starts_with("sqlite_")
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let mut schema = Schema::new();
    for t in tables.into_iter().filter(|t| ours(t)) {
        let mut columns = BTreeMap::new();
        for row in sqlx::query(&format!("PRAGMA table_info({t})"))
            .fetch_all(&mut db)
            .await
            .unwrap()
        {
            let name: String = row.get("name");
            let notnull: i64 = row.get("notnull");
            let pk: i64 = row.get("pk");
            columns.insert(name, notnull == 0 && pk == 0);
        }
        let mut indexes = BTreeMap::new();
        for row in sqlx::query(&format!("PRAGMA index_list({t})"))
            .fetch_all(&mut db)
            .await
            .unwrap()
        {
            let name: String = row.get("name");
            // Implicit indexes of PRIMARY KEY / UNIQUE constraints are named by SQLite itself.
            if name.starts_with("sqlite_autoindex") {
                continue;
            }
            let cols: Vec<String> = sqlx::query(&format!("PRAGMA index_info({name})"))
                .fetch_all(&mut db)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    r.get::<Option<String>, _>("name")
                        .unwrap_or_else(|| "<expr>".into())
                })
                .collect();
            indexes.insert(name, cols);
        }
        schema.insert(t, (columns, indexes));
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let mut schema = Schema::new();
    for row in sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, is_nullable::text AS n \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap()
    {
        let t: String = row.get("t");
        if !ours(&t) {
            continue;
        }
        let c: String = row.get("c");
        let n: String = row.get("n");
        schema.entry(t).or_default().0.insert(c, n == "YES");
    }
    // Indexes other than those PostgreSQL makes for primary keys and unique constraints.
    for row in sqlx::query(
        "SELECT t.relname::text AS t, i.relname::text AS i, \
                array_to_string(ARRAY(SELECT COALESCE(a.attname::text, '<expr>') \
                  FROM unnest(ix.indkey) WITH ORDINALITY k(n, o) \
                  LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n \
                  ORDER BY k.o), ',') AS cols \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace ns ON ns.oid = t.relnamespace \
         WHERE ns.nspname = 'public' \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)",
    )
    .fetch_all(&mut db)
    .await
    .unwrap()
    {
        let t: String = row.get("t");
        if !ours(&t) {
            continue;
        }
        let cols: String = row.get("cols");
        schema
            .entry(t)
            .or_default()
            .1
            .insert(row.get("i"), cols.split(',').map(str::to_owned).collect());
    }
    schema
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_and_postgres_schemas_agree() {
        let (lite_dir, pg_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let lite_url = database_url(Backend::Sqlite, &lite_dir).await;
        let pg_url = database_url(Backend::Postgres, &pg_dir).await;
        // Migrated as a server migrates them at start.
        let lite = spawn_on(&lite_url, lite_dir, Options::default()).await;
        let pg = spawn_on(&pg_url, pg_dir, Options::default()).await;
        let (a, b) = (
            sqlite_schema(&lite_url).await,
            postgres_schema(&pg_url).await,
        );
        let names = |s: &Schema| s.keys().cloned().collect::<Vec<_>>();
        // What is compared is the real schema, not two empty readings.
        assert!(a.len() > 15 && a["users"].0.len() > 10 && !a["users"].1.is_empty());
        assert_eq!(names(&a), names(&b), "tables");
        for (table, (columns, indexes)) in &a {
            let (pg_columns, pg_indexes) = &b[table];
            assert_eq!(columns, pg_columns, "{table}: columns and nullability");
            assert_eq!(indexes, pg_indexes, "{table}: indexes");
        }
        lite.stop().await;
        pg.stop().await;
    }
}
