//! The stability report as one self-contained HTML page: summary figures,
//! a Sankey-style SVG of the job flows from old to new clusters, the
//! split/merge events, the cluster matching and a sample of moved jobs. No
//! scripts, fonts or images are loaded from anywhere.

use crate::stability::{ClusterEvent, ClusterSide, StabilityReport};
use jobenrich_domain::ClusterChange;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Moved jobs listed in the page (the JSON output has them all).
const MOVED_JOBS_SHOWN: usize = 200;

const WIDTH: f64 = 1000.0;
const NODE_WIDTH: f64 = 14.0;
/// Room for the labels on each side: `LABEL_CHARS` characters of 12 px text
/// (about 7 px each at most) fit left of the old nodes without clipping.
const LEFT_X: f64 = 300.0;
const RIGHT_X: f64 = WIDTH - 300.0 - NODE_WIDTH;
const LABEL_CHARS: usize = 40;
const NODE_GAP: f64 = 8.0;
const TOP: f64 = 30.0;

/// Escapes text for HTML and SVG content and attributes.
pub use jobenrich_domain::text::html_escape as escape;

fn colour(index: usize) -> String {
    format!("hsl({:.0},62%,52%)", (index as f64 * 137.508) % 360.0)
}

/// The whole page. `old_caption` and `new_caption` name the runs for people
/// (model version and date); the run ids follow in small print.
pub fn render_html(
    report: &StabilityReport,
    changes: &[ClusterChange],
    old_caption: &str,
    new_caption: &str,
) -> String {
    let mut html = String::new();
    let title = format!("Cluster stability: {old_caption} → {new_caption}");
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}th{{background:#f3f3f3}}\
.num{{text-align:right;font-variant-numeric:tabular-nums}}svg text{{font-size:12px}}\
.ids{{color:#666;font-size:0.85em;margin-top:-0.5em}}svg{{overflow:visible}}\
</style></head><body>\n<h1>{}</h1>\n<p class=\"ids\">old run <code>{}</code> · new run <code>{}</code></p>\n",
        escape(&title),
        escape(&title),
        escape(&report.old_run_id),
        escape(&report.new_run_id)
    );
    html.push_str("<table>\n");
    let rows = [
        ("Jobs in both runs", report.jobs_in_both.to_string()),
        (
            "Jobs only in the old run",
            report.jobs_only_in_old.to_string(),
        ),
        (
            "Jobs only in the new run",
            report.jobs_only_in_new.to_string(),
        ),
        ("Moved jobs", report.moved_jobs.to_string()),
        ("Churn rate", format!("{:.2}%", report.churn_rate * 100.0)),
        (
            "Adjusted Rand index",
            format!("{:.4}", report.adjusted_rand_index),
        ),
        (
            "Normalized mutual information",
            format!("{:.4}", report.normalized_mutual_information),
        ),
        (
            "Old / new clusters",
            format!(
                "{} / {}",
                report.old_clusters.len(),
                report.new_clusters.len()
            ),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(
            html,
            "<tr><th>{label}</th><td class=\"num\">{}</td></tr>",
            escape(&value)
        );
    }
    html.push_str("</table>\n<h2>Flows between clusters</h2>\n");
    html.push_str(&render_flow_svg(report));
    html.push_str(&render_events(report));
    html.push_str(&render_matches(report));
    let _ = writeln!(
        html,
        "<h2>Moved jobs</h2>\n<p>{} jobs changed cluster id{}.</p>",
        changes.len(),
        if changes.len() > MOVED_JOBS_SHOWN {
            format!(" (first {MOVED_JOBS_SHOWN} shown)")
        } else {
            String::new()
        }
    );
    if !changes.is_empty() {
        html.push_str("<table><tr><th>Job</th><th>Old cluster</th><th>New cluster</th></tr>\n");
        for c in changes.iter().take(MOVED_JOBS_SHOWN) {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{} · {}</td><td>{} · {}</td></tr>",
                escape(c.job_posting_id.as_str()),
                c.old_cluster_id,
                escape(&c.old_cluster_name),
                c.new_cluster_id,
                escape(&c.new_cluster_name)
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

fn name_of(sides: &[ClusterSide], id: u32) -> String {
    sides
        .iter()
        .find(|s| s.cluster_id == id)
        .map_or_else(|| format!("cluster {id}"), |s| s.name.clone())
}

fn render_events(report: &StabilityReport) -> String {
    let old = |id| format!("{id} · {}", escape(&name_of(&report.old_clusters, id)));
    let new = |id| format!("{id} · {}", escape(&name_of(&report.new_clusters, id)));
    let list = |ids: &[u32], f: &dyn Fn(u32) -> String| {
        ids.iter().map(|&i| f(i)).collect::<Vec<_>>().join(", ")
    };
    let mut out = format!(
        "<h2>Events</h2>\n<p>A flow counts when it holds at least {:.0}% of both clusters' shared jobs.</p>\n<ul>\n",
        report.share_threshold * 100.0
    );
    for e in &report.events {
        let line = match e {
            ClusterEvent::Continues {
                old: o,
                new: n,
                jaccard,
            } => {
                format!(
                    "<b>continues</b>: {} → {} (Jaccard {jaccard:.3})",
                    old(*o),
                    new(*n)
                )
            }
            ClusterEvent::Split { old: o, into } => {
                format!("<b>split</b>: {} → {}", old(*o), list(into, &new))
            }
            ClusterEvent::Merged { from, into } => {
                format!("<b>merged</b>: {} → {}", list(from, &old), new(*into))
            }
            ClusterEvent::New { new: n } => format!("<b>new</b>: {}", new(*n)),
            ClusterEvent::Vanished { old: o } => format!("<b>vanished</b>: {}", old(*o)),
        };
        let _ = writeln!(out, "<li>{line}</li>");
    }
    out.push_str("</ul>\n");
    out
}

fn render_matches(report: &StabilityReport) -> String {
    let mut out = String::from(
        "<h2>Cluster matching (one-to-one by Jaccard overlap)</h2>\n<table><tr><th>Old cluster</th><th>New cluster</th><th>Shared jobs</th><th>Jaccard</th></tr>\n",
    );
    for m in &report.matches {
        let _ = writeln!(
            out,
            "<tr><td>{} · {}</td><td>{} · {}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td></tr>",
            m.old,
            escape(&name_of(&report.old_clusters, m.old)),
            m.new,
            escape(&name_of(&report.new_clusters, m.new)),
            m.shared_jobs,
            m.jaccard
        );
    }
    out.push_str("</table>\n");
    out
}

/// Node positions of one column: (top, height) per cluster id.
fn layout(sides: &[&ClusterSide], scale: f64) -> BTreeMap<u32, (f64, f64)> {
    let mut y = TOP;
    let mut out = BTreeMap::new();
    for s in sides {
        let h = (s.shared_jobs as f64 * scale).max(2.0);
        out.insert(s.cluster_id, (y, h));
        y += h + NODE_GAP;
    }
    out
}

/// The Sankey-style SVG: old clusters left, new right, one band per flow.
pub fn render_flow_svg(report: &StabilityReport) -> String {
    let total = report.jobs_in_both.max(1) as f64;
    let most = report.old_clusters.len().max(report.new_clusters.len());
    let plot_height = (most as f64 * 28.0).max(420.0);
    let scale = (plot_height - NODE_GAP * most as f64).max(50.0) / total;

    let old_order: Vec<&ClusterSide> = report.old_clusters.iter().collect();
    let old_rank: BTreeMap<u32, usize> = old_order
        .iter()
        .enumerate()
        .map(|(i, s)| (s.cluster_id, i))
        .collect();
    // New clusters sit next to the old cluster they are matched with, which keeps bands short.
    let partner: BTreeMap<u32, u32> = report.matches.iter().map(|m| (m.new, m.old)).collect();
    let mut new_order: Vec<&ClusterSide> = report.new_clusters.iter().collect();
    new_order.sort_by_key(|s| {
        (
            partner
                .get(&s.cluster_id)
                .map_or(usize::MAX, |o| old_rank[o]),
            s.cluster_id,
        )
    });
    let new_rank: BTreeMap<u32, usize> = new_order
        .iter()
        .enumerate()
        .map(|(i, s)| (s.cluster_id, i))
        .collect();
    let left = layout(&old_order, scale);
    let right = layout(&new_order, scale);
    let height = left
        .values()
        .chain(right.values())
        .map(|(y, h)| y + h)
        .fold(TOP, f64::max)
        + TOP;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" role=\"img\" aria-label=\"Job flows from old to new clusters\">"
    );
    // Each column's heading sits over its own label side, so the two never meet.
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"18\" font-weight=\"bold\" text-anchor=\"end\">old run</text><text x=\"{RIGHT_X:.1}\" y=\"18\" font-weight=\"bold\">new run</text>",
        LEFT_X + NODE_WIDTH,
    );

    // Bands: leave each old node in new-node order, enter each new node in old-node order.
    let mut flows: Vec<_> = report.flows.iter().collect();
    let mut out_offset: BTreeMap<u32, f64> = BTreeMap::new();
    let mut in_offset: BTreeMap<u32, f64> = BTreeMap::new();
    flows.sort_by_key(|f| (old_rank.get(&f.old), new_rank.get(&f.new)));
    let mut bands = Vec::new();
    for f in &flows {
        let (Some(&(ly, _)), Some(_)) = (left.get(&f.old), right.get(&f.new)) else {
            continue;
        };
        let h = f.jobs as f64 * scale;
        let off = out_offset.entry(f.old).or_insert(0.0);
        bands.push((f, ly + *off, h));
        *off += h;
    }
    let mut by_new = bands.clone();
    by_new.sort_by_key(|(f, _, _)| (new_rank.get(&f.new), old_rank.get(&f.old)));
    let x0 = LEFT_X + NODE_WIDTH;
    let x1 = RIGHT_X;
    let mid = (x0 + x1) / 2.0;
    for (f, y0, h) in by_new {
        let (ry, _) = right[&f.new];
        let off = in_offset.entry(f.new).or_insert(0.0);
        let y1 = ry + *off;
        *off += h;
        let _ = writeln!(
            svg,
            "<path d=\"M{x0:.1},{y0:.1} C{mid:.1},{y0:.1} {mid:.1},{y1:.1} {x1:.1},{y1:.1} L{x1:.1},{:.1} C{mid:.1},{:.1} {mid:.1},{:.1} {x0:.1},{:.1} Z\" fill=\"{}\" fill-opacity=\"0.45\"><title>{}</title></path>",
            y1 + h,
            y1 + h,
            y0 + h,
            y0 + h,
            colour(old_rank[&f.old]),
            escape(&format!(
                "{} → {}: {} jobs",
                name_of(&report.old_clusters, f.old),
                name_of(&report.new_clusters, f.new),
                f.jobs
            ))
        );
    }
    for (sides, positions, x, anchor, label_x) in [
        (&old_order, &left, LEFT_X, "end", LEFT_X - 6.0),
        (
            &new_order,
            &right,
            RIGHT_X,
            "start",
            RIGHT_X + NODE_WIDTH + 6.0,
        ),
    ] {
        for s in sides.iter() {
            let (y, h) = positions[&s.cluster_id];
            let fill = if anchor == "end" {
                colour(old_rank[&s.cluster_id])
            } else {
                partner
                    .get(&s.cluster_id)
                    .map_or_else(|| "#888".to_string(), |o| colour(old_rank[o]))
            };
            let label = format!("{} · {} ({})", s.cluster_id, s.name, s.size);
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_WIDTH}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{}</title></rect><text x=\"{label_x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" dominant-baseline=\"middle\">{}</text>",
                escape(&label),
                y + h / 2.0,
                escape(&truncate(&label, LABEL_CHARS))
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max_chars - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stability::{compare_runs, RunMembership};
    use jobenrich_domain::JobId;

    fn membership(run: &str, labels: &[u32], names: &[(u32, &str)]) -> RunMembership {
        RunMembership {
            run_id: run.into(),
            labels: labels
                .iter()
                .enumerate()
                .map(|(i, &c)| (JobId::parse(format!("j{i}")).unwrap(), c))
                .collect(),
            names: names.iter().map(|(i, n)| (*i, n.to_string())).collect(),
        }
    }

    #[test]
    fn page_is_self_contained_escaped_and_draws_every_flow() {
        let old = membership(
            "run-a",
            &[0, 0, 0, 0, 1, 1],
            &[(0, "rust <backend>"), (1, "nurse")],
        );
        let new = membership(
            "run-b",
            &[0, 0, 2, 2, 1, 1],
            &[(0, "rust"), (1, "nurse & care"), (2, "go")],
        );
        let report = compare_runs(&old, &new, 0.2);
        let changes = vec![ClusterChange {
            job_posting_id: JobId::parse("j2").unwrap(),
            old_cluster_id: 0,
            old_cluster_name: "rust <backend>".into(),
            new_cluster_id: 2,
            new_cluster_name: "go".into(),
        }];
        let html = render_html(&report, &changes, "v1.0 of 1 May", "v1.1 of <2 May>");
        assert!(html.starts_with("<!DOCTYPE html>"));
        // People's captions in the title, the run ids in small print, and
        // short column headings (the ids used to overlap there).
        assert!(html.contains("<h1>Cluster stability: v1.0 of 1 May → v1.1 of &lt;2 May&gt;</h1>"));
        assert!(html.contains("old run <code>run-a</code> · new run <code>run-b</code>"));
        assert!(html.contains(">old run</text>") && html.contains(">new run</text>"));
        assert!(!html.contains("old: run-a"));
        assert!(html.contains("rust &lt;backend&gt;"));
        assert!(!html.contains("<backend>"));
        assert!(html.contains("nurse &amp; care"));
        assert!(!html.contains("src=") && !html.contains("<script") && !html.contains("href="));
        assert_eq!(html.matches("<path ").count(), report.flows.len());
        assert_eq!(html.matches("<rect ").count(), 5);
        assert!(html.contains("<b>split</b>: 0 · rust &lt;backend&gt; → 0 · rust, 2 · go"));
        assert!(html.contains("1 jobs changed cluster id"));
    }
}
