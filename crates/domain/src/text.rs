//! Small text helpers shared by every layer that renders output (HTML
//! reports, dotted-key views of JSON), written once here because the domain is
//! the one crate all of them depend on. Pure functions, no I/O.

use std::collections::BTreeMap;

/// Escapes text for HTML (and SVG) element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The leaves of a JSON tree by dotted key (`a.b.c`). Non-empty objects are
/// walked; everything else (scalars, arrays, empty objects) is a leaf. A null
/// root has no leaves.
pub fn flatten_json(value: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    flatten_into("", value, &mut out);
    out
}

fn flatten_into(
    prefix: &str,
    value: &serde_json::Value,
    out: &mut BTreeMap<String, serde_json::Value>,
) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_into(&key, v, out);
            }
        }
        other => {
            if !prefix.is_empty() {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            html_escape(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }

    #[test]
    fn json_leaves_are_keyed_by_dotted_path() {
        let value = serde_json::json!({"a": {"b": 1, "c": [1, 2], "d": {}}, "e": null});
        let leaves = flatten_json(&value);
        let keys: Vec<&str> = leaves.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a.b", "a.c", "a.d", "e"]);
        assert_eq!(leaves["a.c"], serde_json::json!([1, 2]));
        assert!(flatten_json(&serde_json::Value::Null).is_empty());
    }
}
