//! Cases of the alias, model registry and evaluation repositories.

use super::ok;
use crate::fixtures::{
    alias, at, evaluation, evaluation_minimal, model, model_id, model_minimal, model_version,
};
use jobenrich_domain::{AliasUpsertCounts, EnrichmentType, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

pub async fn aliases_are_unique_case_insensitively(store: Arc<dyn Store>) {
    let s = &*store;
    let k8s = alias("K8s", "Kubernetes");
    ok(
        s,
        store.add_alias(&k8s).await,
        "add_alias stores a new alias",
    );
    let dup = store.add_alias(&alias("k8S", "Kubernetes")).await;
    promise!(
        s,
        matches!(dup, Err(StoreError::AlreadyExists { .. })),
        "an alias whose text differs only in case already exists, got {dup:?}"
    );
    ok(
        s,
        store
            .add_alias(&alias("Ärzte-Software", "Medical Software"))
            .await,
        "add_alias",
    );
    let unicode_dup = store
        .add_alias(&alias("ärzte-SOFTWARE", "Medical Software"))
        .await;
    promise!(
        s,
        matches!(unicode_dup, Err(StoreError::AlreadyExists { .. })),
        "case-insensitive uniqueness covers non-ASCII letters, got {unicode_dup:?}"
    );
    let got = ok(s, store.get_alias("K8S").await, "get_alias");
    promise_eq!(
        s,
        got,
        Some(k8s),
        "get_alias is case-insensitive and round-trips the alias as added"
    );
    let missing = ok(s, store.get_alias("k8").await, "get_alias");
    promise_eq!(s, missing, None, "get_alias matches whole texts only");
    promise_eq!(
        s,
        ok(s, store.list_aliases(false).await, "list_aliases").len(),
        2,
        "a rejected duplicate stores nothing"
    );
}

pub async fn aliases_are_deactivated_without_deletion_and_upserted(store: Arc<dyn Store>) {
    let s = &*store;
    ok(
        s,
        store.add_alias(&alias("K8s", "Kubernetes")).await,
        "add_alias",
    );
    ok(
        s,
        store.add_alias(&alias("Postgres", "PostgreSQL")).await,
        "add_alias",
    );
    let deactivated = ok(
        s,
        store.deactivate_alias("k8s", at(50)).await,
        "deactivate_alias",
    );
    let mut expected = alias("K8s", "Kubernetes");
    expected.is_active = false;
    expected.updated_at = at(50);
    promise_eq!(
        s,
        deactivated,
        expected.clone(),
        "deactivation marks the alias inactive and records the time"
    );
    promise_eq!(
        s,
        ok(s, store.get_alias("K8s").await, "get_alias"),
        Some(expected),
        "a deactivated alias is kept"
    );
    let active: Vec<String> = ok(s, store.list_aliases(true).await, "list_aliases")
        .into_iter()
        .map(|a| a.alias_text)
        .collect();
    promise_eq!(
        s,
        active,
        vec!["Postgres"],
        "active_only lists leave deactivated aliases out"
    );
    let all: Vec<String> = ok(s, store.list_aliases(false).await, "list_aliases")
        .into_iter()
        .map(|a| a.alias_text)
        .collect();
    promise_eq!(
        s,
        all,
        vec!["K8s", "Postgres"],
        "all aliases are listed by lower-cased text"
    );
    let missing = store.deactivate_alias("nope", at(51)).await;
    promise!(
        s,
        matches!(missing, Err(StoreError::NotFound { .. })),
        "deactivating an unknown alias is NotFound, got {missing:?}"
    );

    let mut k8s_again = alias("K8S", "Kubernetes");
    k8s_again.confidence = 0.5;
    k8s_again.updated_at = at(60);
    let counts = ok(
        s,
        store
            .upsert_aliases(&[
                k8s_again.clone(),
                alias("tf", "Terraform"),
                alias("apache kafka", "Kafka"),
            ])
            .await,
        "upsert_aliases",
    );
    promise_eq!(
        s,
        counts,
        AliasUpsertCounts {
            inserted: 2,
            updated: 1
        },
        "upsert matches existing aliases case-insensitively"
    );
    let listed: Vec<(String, f64, bool)> = ok(s, store.list_aliases(false).await, "list_aliases")
        .into_iter()
        .map(|a| (a.alias_text, a.confidence, a.is_active))
        .collect();
    promise_eq!(
        s,
        listed,
        vec![
            ("apache kafka".into(), 0.95, true),
            ("K8S".into(), 0.5, true),
            ("Postgres".into(), 0.95, true),
            ("tf".into(), 0.95, true),
        ],
        "an upsert updates the matched alias in place (one row per text), ordered by lower-cased text"
    );
}

pub async fn model_registry_keeps_one_active_version_per_model(store: Arc<dyn Store>) {
    let s = &*store;
    let skills = EnrichmentType::SkillsExtraction;
    let mut v1 = model("skills_extractor", "v1.0", skills);
    v1.is_active = true; // registration stores it inactive whatever it says
    ok(s, store.register_model(&v1).await, "register_model");
    let again = store.register_model(&v1).await;
    promise!(
        s,
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "registering a version twice is AlreadyExists, got {again:?}"
    );
    for v in ["v1.10", "v1.9", "v2.0-rc-1"] {
        ok(
            s,
            store
                .register_model(&model_minimal("skills_extractor", v, skills))
                .await,
            "register_model",
        );
    }
    ok(
        s,
        store
            .register_model(&model_minimal(
                "section_classifier",
                "v1.0",
                EnrichmentType::SectionClassification,
            ))
            .await,
        "register",
    );

    let stored = ok(
        s,
        store
            .get_model(&model_id("skills_extractor"), &model_version("v1.0"))
            .await,
        "get_model",
    );
    let mut expected = v1.clone();
    expected.is_active = false;
    promise_eq!(
        s,
        stored,
        Some(expected),
        "a model round-trips exactly (overrides object, metrics map) and is registered inactive"
    );
    let minimal = ok(
        s,
        store
            .get_model(&model_id("skills_extractor"), &model_version("v1.9"))
            .await,
        "get_model",
    );
    promise_eq!(
        s,
        minimal,
        Some(model_minimal("skills_extractor", "v1.9", skills)),
        "a model without optional fields round-trips"
    );

    let listed: Vec<String> = ok(
        s,
        store.list_models(Some(model_id("skills_extractor"))).await,
        "list_models",
    )
    .into_iter()
    .map(|m| m.version.to_string())
    .collect();
    promise_eq!(
        s,
        listed,
        vec!["v1.0", "v1.9", "v1.10", "v2.0-rc-1"],
        "versions are listed in numeric version order"
    );
    let all: Vec<String> = ok(s, store.list_models(None).await, "list_models")
        .into_iter()
        .map(|m| m.model_id.to_string())
        .collect();
    promise_eq!(
        s,
        all.first().map(String::as_str),
        Some("section_classifier"),
        "all models are listed by model id first"
    );
    promise_eq!(
        s,
        all.len(),
        5,
        "list_models without an id lists every version"
    );

    let id = model_id("skills_extractor");
    let activated = ok(
        s,
        store
            .activate_model(&id, &model_version("v1.0"), "alice", at(40))
            .await,
        "activate_model",
    );
    promise!(
        s,
        activated.is_active
            && activated.activated_at == Some(at(40))
            && activated.activated_by.as_deref() == Some("alice"),
        "activation records who and when: {activated:?}"
    );
    ok(
        s,
        store
            .activate_model(&id, &model_version("v1.9"), "bob", at(41))
            .await,
        "activate_model",
    );
    let active: Vec<String> = ok(s, store.list_models(Some(id.clone())).await, "list_models")
        .into_iter()
        .filter(|m| m.is_active)
        .map(|m| m.version.to_string())
        .collect();
    promise_eq!(
        s,
        active,
        vec!["v1.9"],
        "exactly one version of a model id is active"
    );
    let current =
        ok(s, store.active_model(&id).await, "active_model").map(|m| m.version.to_string());
    promise_eq!(
        s,
        current.as_deref(),
        Some("v1.9"),
        "active_model returns the activated version"
    );
    let missing = store
        .activate_model(&id, &model_version("v9.9"), "bob", at(42))
        .await;
    promise!(
        s,
        matches!(missing, Err(StoreError::NotFound { .. })),
        "activating an unknown version is NotFound, got {missing:?}"
    );
    promise_eq!(
        s,
        ok(s, store.active_model(&id).await, "active_model")
            .map(|m| m.version.to_string())
            .as_deref(),
        Some("v1.9"),
        "a failed activation changes nothing"
    );

    ok(
        s,
        store
            .register_model(&model_minimal("skills_extractor_b", "v1.0", skills))
            .await,
        "register",
    );
    ok(
        s,
        store
            .activate_model(
                &model_id("skills_extractor_b"),
                &model_version("v1.0"),
                "carol",
                at(45),
            )
            .await,
        "activate",
    );
    let by_type = ok(
        s,
        store.active_model_for_type(skills).await,
        "active_model_for_type",
    )
    .map(|m| m.model_id.to_string());
    promise_eq!(
        s,
        by_type.as_deref(),
        Some("skills_extractor_b"),
        "with several active models of a type, the most recently activated wins"
    );
    let none = ok(
        s,
        store
            .active_model_for_type(EnrichmentType::Embeddings)
            .await,
        "active_model_for_type",
    );
    promise_eq!(s, none, None, "a type without an active model has none");
    let inactive_type = ok(
        s,
        store
            .active_model_for_type(EnrichmentType::SectionClassification)
            .await,
        "active_model_for_type",
    );
    promise_eq!(
        s,
        inactive_type,
        None,
        "registered but inactive models are not active for their type"
    );
}

pub async fn model_performance_metrics_are_merged(store: Arc<dyn Store>) {
    let s = &*store;
    let m = model("skills_extractor", "v1.0", EnrichmentType::SkillsExtraction);
    ok(s, store.register_model(&m).await, "register_model");
    let update = BTreeMap::from([("f1_score".to_string(), 0.9), ("recall".to_string(), 0.7)]);
    let updated = ok(
        s,
        store
            .update_performance_metrics(&m.model_id, &m.version, &update, at(100))
            .await,
        "update_performance_metrics",
    );
    promise_eq!(
        s,
        updated.performance_metrics,
        BTreeMap::from([("f1_score".to_string(), 0.9), ("recall".to_string(), 0.7)]),
        "metrics are merged: new keys added, existing keys overwritten"
    );
    let more = BTreeMap::from([("precision".to_string(), 0.8)]);
    ok(
        s,
        store
            .update_performance_metrics(&m.model_id, &m.version, &more, at(101))
            .await,
        "update",
    );
    let stored = ok(
        s,
        store.get_model(&m.model_id, &m.version).await,
        "get_model",
    )
    .expect("registered model exists");
    promise_eq!(
        s,
        stored.performance_metrics.len(),
        3,
        "earlier metrics are kept by later merges"
    );
    promise_eq!(
        s,
        stored.updated_at,
        at(101),
        "a metrics update records the update time"
    );
    let missing = store
        .update_performance_metrics(&model_id("nobody"), &m.version, &more, at(102))
        .await;
    promise!(
        s,
        matches!(missing, Err(StoreError::NotFound { .. })),
        "updating an unknown model is NotFound, got {missing:?}"
    );
}

pub async fn evaluations_round_trip_and_latest_is_newest(store: Arc<dyn Store>) {
    let s = &*store;
    let m = "skills_extractor";
    let e1 = evaluation("e1", m, "v1.0", "ds1", at(100));
    let e2 = evaluation("e2", m, "v1.0", "ds2", at(300));
    let e3 = evaluation_minimal("e3", m, "v1.1", "ds1", at(200));
    let e4 = evaluation("e4", m, "v1.0", "ds1", at(300));
    let other = evaluation("e5", "other_model", "v1.0", "ds1", at(999));
    for e in [&e1, &e2, &e3, &e4, &other] {
        ok(s, store.insert_evaluation(e).await, "insert_evaluation");
    }
    let dup = store.insert_evaluation(&e1).await;
    promise!(
        s,
        matches!(dup, Err(StoreError::AlreadyExists { .. })),
        "an evaluation id is stored once, got {dup:?}"
    );

    let id = model_id(m);
    let latest = |v: Option<&str>, d: Option<&str>| {
        let store = Arc::clone(&store);
        let id = id.clone();
        let v = v.map(model_version);
        let d = d.map(str::to_string);
        async move {
            ok(
                &*store,
                store.latest_evaluation(&id, v, d).await,
                "latest_evaluation",
            )
        }
    };
    promise_eq!(
        s,
        latest(None, None).await,
        Some(e4.clone()),
        "the latest evaluation is the newest by time, ties by id, round-tripped exactly"
    );
    promise_eq!(
        s,
        latest(Some("v1.1"), None).await,
        Some(e3.clone()),
        "latest_evaluation filters by model version (optional fields absent round-trip)"
    );
    promise_eq!(
        s,
        latest(None, Some("ds2")).await,
        Some(e2.clone()),
        "latest_evaluation filters by dataset version"
    );
    promise_eq!(
        s,
        latest(Some("v1.0"), Some("ds1")).await,
        Some(e4.clone()),
        "both filters combine"
    );
    promise_eq!(
        s,
        latest(Some("v9.9"), None).await,
        None,
        "no evaluation of that version is None"
    );

    let listed: Vec<String> = ok(s, store.list_evaluations(&id).await, "list_evaluations")
        .into_iter()
        .map(|e| e.evaluation_id)
        .collect();
    promise_eq!(
        s,
        listed,
        vec!["e4", "e2", "e3", "e1"],
        "a model's evaluations are listed newest first"
    );
}
