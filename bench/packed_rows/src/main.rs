//! Skill rows as rows against one packed JSON(B) value per posting, against
//! one multi-row INSERT per posting (`multi`) and against rows keyed by an
//! integer posting key (`intkey`): write CPU, bytes and a full read of (job,
//! skill, confidence). Reads a store's `job_skills_data`
//! (argument 2) and writes /tmp/packed-rows.db.

use rusqlite::{params, types::Value, Connection};
use std::time::Instant;

fn cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

const COLS: &str = "job_posting_id, version_term, name_term, category_term, confidence_score, strategies_term, section_relevance_score, section_term, context_snippet, snippet_start, snippet_end, position_in_text, mention_count, taxonomy_ref_term, created_at, skill_id, enrichment_id, mention_spans, taxonomy_links, taxonomy_link_terms, links_term, stamped";

fn open(path: &str) -> Connection {
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{s}"));
    }
    let c = Connection::open(path).unwrap();
    c.execute_batch("PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=8192;").unwrap();
    c
}

/// Writes `jobs`' rows one execution each, 300 postings per transaction, as
/// the writer does; (CPU, wall) seconds.
fn write_rows(conn: &Connection, jobs: &[Vec<Vec<Value>>]) -> (f64, f64) {
    let sql = format!("INSERT INTO job_skills_data ({COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22) ON CONFLICT (job_posting_id, version_term, name_term) DO UPDATE SET confidence_score = excluded.confidence_score");
    let c0 = cpu();
    let w0 = Instant::now();
    for chunk in jobs.chunks(300) {
        conn.execute_batch("BEGIN").unwrap();
        let mut st = conn.prepare_cached(&sql).unwrap();
        for job in chunk {
            for r in job {
                st.execute(rusqlite::params_from_iter(r.iter())).unwrap();
            }
        }
        drop(st);
        conn.execute_batch("COMMIT").unwrap();
    }
    (cpu() - c0, w0.elapsed().as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args[1].as_str();
    let src =
        Connection::open_with_flags(&args[2], rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let ddl: String = src
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name='job_skills_data'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let ddl = ddl
        .replace("REFERENCES job_postings(job_posting_id)", "")
        .replace("REFERENCES skill_terms(term_id)", "");
    // Rows grouped per job.
    let mut jobs: Vec<Vec<Vec<Value>>> = Vec::new();
    {
        let mut st = src.prepare(&format!("SELECT {COLS} FROM job_skills_data ORDER BY job_posting_id, version_term, name_term")).unwrap();
        let mut rows = st.query([]).unwrap();
        let mut last = String::new();
        while let Some(r) = rows.next().unwrap() {
            let v: Vec<Value> = (0..22).map(|i| r.get(i).unwrap()).collect();
            let Value::Text(j) = &v[0] else { panic!() };
            if *j != last {
                last = j.clone();
                jobs.push(Vec::new());
            }
            jobs.last_mut().unwrap().push(v);
        }
    }
    let n_rows: usize = jobs.iter().map(|j| j.len()).sum();
    eprintln!("{} jobs, {} rows", jobs.len(), n_rows);
    let path = "/tmp/packed-rows.db";
    let conn = open(path);
    let fmt = |v: &Value| -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Integer(i) => (*i).into(),
            Value::Real(f) => (*f).into(),
            Value::Text(t) => t.clone().into(),
            Value::Blob(b) => b
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
                .into(),
        }
    };
    let (t_cpu, t_wall);
    match mode {
        "rows" => {
            conn.execute_batch(&ddl).unwrap();
            (t_cpu, t_wall) = write_rows(&conn, &jobs);
        }
        "intkey" => {
            // The posting as an integer key (its job_postings rowid, given in
            // claim order) instead of its text id; every other column as rows.
            let int_ddl = ddl.replace(
                "job_posting_id          TEXT NOT NULL",
                "job_posting_id          INTEGER NOT NULL",
            );
            assert_ne!(int_ddl, ddl, "the key column was not found");
            conn.execute_batch(&int_ddl).unwrap();
            let keyed: Vec<Vec<Vec<Value>>> = jobs
                .iter()
                .enumerate()
                .map(|(i, job)| {
                    job.iter()
                        .map(|r| {
                            let mut r = r.clone();
                            r[0] = Value::Integer(i as i64 + 1);
                            r
                        })
                        .collect()
                })
                .collect();
            (t_cpu, t_wall) = write_rows(&conn, &keyed);
        }
        "multi" => {
            // One statement per posting: all its rows in one multi-row VALUES
            // (statements cached per row count, as a writer would).
            conn.execute_batch(&ddl).unwrap();
            let sql = |k: usize| {
                let rows: Vec<String> = (0..k)
                    .map(|r| {
                        let ps: Vec<String> =
                            (1..=22).map(|c| format!("?{}", r * 22 + c)).collect();
                        format!("({})", ps.join(","))
                    })
                    .collect();
                format!("INSERT INTO job_skills_data ({COLS}) VALUES {} ON CONFLICT (job_posting_id, version_term, name_term) DO UPDATE SET confidence_score = excluded.confidence_score", rows.join(","))
            };
            conn.set_prepared_statement_cache_capacity(256);
            let sqls: Vec<String> = (0..=64).map(sql).collect();
            let c0 = cpu();
            let w0 = Instant::now();
            for chunk in jobs.chunks(300) {
                conn.execute_batch("BEGIN").unwrap();
                for job in chunk {
                    for part in job.chunks(64) {
                        let mut st = conn.prepare_cached(&sqls[part.len()]).unwrap();
                        st.execute(rusqlite::params_from_iter(part.iter().flatten()))
                            .unwrap();
                    }
                }
                conn.execute_batch("COMMIT").unwrap();
            }
            t_cpu = cpu() - c0;
            t_wall = w0.elapsed().as_secs_f64();
        }
        "jsonb" | "json" => {
            conn.execute_batch("CREATE TABLE sets (job_posting_id TEXT NOT NULL, version_term INTEGER NOT NULL, skills BLOB NOT NULL, PRIMARY KEY (job_posting_id, version_term)) WITHOUT ROWID").unwrap();
            // Built off the writer (the engine side would): one JSON array of arrays per job.
            let payloads: Vec<(String, i64, String)> = jobs
                .iter()
                .map(|job| {
                    let Value::Text(j) = &job[0][0] else { panic!() };
                    let Value::Integer(v) = job[0][1] else {
                        panic!()
                    };
                    let arr: Vec<serde_json::Value> = job
                        .iter()
                        .map(|r| serde_json::Value::Array(r[2..].iter().map(fmt).collect()))
                        .collect();
                    (j.clone(), v, serde_json::to_string(&arr).unwrap())
                })
                .collect();
            let sql = if mode == "jsonb" {
                "INSERT INTO sets VALUES (?1, ?2, jsonb(?3))"
            } else {
                "INSERT INTO sets VALUES (?1, ?2, ?3)"
            };
            let c0 = cpu();
            let w0 = Instant::now();
            for chunk in payloads.chunks(300) {
                conn.execute_batch("BEGIN").unwrap();
                let mut st = conn.prepare_cached(sql).unwrap();
                for (j, v, p) in chunk {
                    st.execute(params![j, v, p]).unwrap();
                }
                drop(st);
                conn.execute_batch("COMMIT").unwrap();
            }
            t_cpu = cpu() - c0;
            t_wall = w0.elapsed().as_secs_f64();
        }
        _ => panic!(),
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // Read (job, name, confidence) for every skill, as clustering does.
    let read_sql = if mode == "rows" || mode == "multi" || mode == "intkey" {
        "SELECT job_posting_id, name_term, confidence_score FROM job_skills_data"
    } else {
        "SELECT s.job_posting_id, e.value ->> 0, e.value ->> 2 FROM sets s, json_each(s.skills) e"
    };
    let c0 = cpu();
    let mut st = conn.prepare(read_sql).unwrap();
    let mut rows = st.query([]).unwrap();
    let (mut n, mut sum) = (0u64, 0f64);
    while let Some(r) = rows.next().unwrap() {
        let _: Value = r.get(0).unwrap();
        let _: i64 = r.get(1).unwrap();
        sum += r.get::<_, f64>(2).unwrap();
        n += 1;
    }
    let read = cpu() - c0;
    println!("{mode}: write cpu {:.2}s wall {:.2}s = {:.1} us/posting; bytes/posting {:.0}; read {n} rows cpu {:.2}s (sum {sum:.1})", t_cpu, t_wall, t_cpu * 1e6 / jobs.len() as f64, pages as f64 * 16384.0 / jobs.len() as f64, read);
}
