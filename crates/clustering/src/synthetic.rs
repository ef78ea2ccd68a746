//! Synthetic job documents for benchmarks and tests: a dozen job families,
//! each with its own titles and skill pool, plus skills shared by all and
//! some noise, generated from a seed.

use crate::features::{JobDocument, WeightedSkill};
use jobenrich_domain::JobId;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (titles, family skills) per job family.
pub const FAMILIES: &[(&[&str], &[&str])] = &[
    (
        &["Backend Engineer", "Software Engineer", "Rust Developer"],
        &[
            "Rust",
            "Go",
            "PostgreSQL",
            "Docker",
            "Kubernetes",
            "gRPC",
            "REST APIs",
            "Linux",
            "Redis",
            "Kafka",
        ],
    ),
    (
        &["Frontend Developer", "Web Developer", "UI Engineer"],
        &[
            "JavaScript",
            "TypeScript",
            "React",
            "CSS",
            "HTML",
            "Vue.js",
            "Webpack",
            "Figma",
            "Accessibility",
            "Next.js",
        ],
    ),
    (
        &[
            "Data Scientist",
            "Machine Learning Engineer",
            "ML Researcher",
        ],
        &[
            "Python",
            "PyTorch",
            "scikit-learn",
            "Statistics",
            "Pandas",
            "NumPy",
            "Deep learning",
            "NLP",
            "TensorFlow",
            "Jupyter",
        ],
    ),
    (
        &["Data Engineer", "Analytics Engineer", "ETL Developer"],
        &[
            "SQL",
            "Spark",
            "Airflow",
            "dbt",
            "BigQuery",
            "Snowflake",
            "Python",
            "Data modeling",
            "Kafka",
            "Scala",
        ],
    ),
    (
        &[
            "DevOps Engineer",
            "Site Reliability Engineer",
            "Platform Engineer",
        ],
        &[
            "Terraform",
            "AWS",
            "Kubernetes",
            "Prometheus",
            "CI/CD",
            "Ansible",
            "Linux",
            "Bash",
            "Helm",
            "Grafana",
        ],
    ),
    (
        &["Registered Nurse", "Nurse Practitioner", "ICU Nurse"],
        &[
            "Patient care",
            "Triage",
            "Medication administration",
            "BLS",
            "Wound care",
            "EHR",
            "Phlebotomy",
            "Infection control",
            "IV therapy",
            "Care planning",
        ],
    ),
    (
        &["Accountant", "Financial Analyst", "Controller"],
        &[
            "Bookkeeping",
            "IFRS",
            "Excel",
            "Financial reporting",
            "Budgeting",
            "SAP",
            "Auditing",
            "Tax",
            "Forecasting",
            "Reconciliation",
        ],
    ),
    (
        &[
            "Sales Representative",
            "Account Executive",
            "Business Development Manager",
        ],
        &[
            "Negotiation",
            "CRM",
            "Salesforce",
            "Lead generation",
            "Cold calling",
            "Pipeline management",
            "Prospecting",
            "Closing",
            "B2B sales",
            "Presentation",
        ],
    ),
    (
        &["Marketing Manager", "Content Marketer", "SEO Specialist"],
        &[
            "SEO",
            "Google Analytics",
            "Content strategy",
            "Copywriting",
            "Social media",
            "Email marketing",
            "HubSpot",
            "Branding",
            "SEM",
            "A/B testing",
        ],
    ),
    (
        &[
            "Warehouse Associate",
            "Forklift Operator",
            "Logistics Coordinator",
        ],
        &[
            "Forklift",
            "Inventory management",
            "Shipping",
            "Receiving",
            "Picking",
            "Packing",
            "WMS",
            "Safety compliance",
            "Pallet jack",
            "Supply chain",
        ],
    ),
    (
        &["Teacher", "Teaching Assistant", "Tutor"],
        &[
            "Lesson planning",
            "Classroom management",
            "Curriculum development",
            "Assessment",
            "Special education",
            "Differentiated instruction",
            "Mentoring",
            "Parent communication",
            "Literacy",
            "STEM",
        ],
    ),
    (
        &[
            "Mechanical Engineer",
            "Design Engineer",
            "Manufacturing Engineer",
        ],
        &[
            "CAD",
            "SolidWorks",
            "FEA",
            "GD&T",
            "Lean manufacturing",
            "AutoCAD",
            "Prototyping",
            "Six Sigma",
            "Thermodynamics",
            "MATLAB",
        ],
    ),
];

/// Skills any job may list.
const SHARED_SKILLS: &[&str] = &[
    "Communication",
    "Teamwork",
    "Problem solving",
    "English",
    "Microsoft Office",
    "Time management",
    "Leadership",
    "Attention to detail",
];

const SENIORITY: &[&str] = &["", "Senior ", "Junior ", "Lead ", "Staff "];

/// `count` jobs with ids `job-0000000…`; the family of job `i` is `i % 12`
/// (see [`family_of`]), so tests know the true partition.
pub fn synthetic_jobs(count: usize, seed: u64) -> Vec<JobDocument> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let (titles, skills) = FAMILIES[family_of(i)];
            let title = format!(
                "{}{}",
                SENIORITY.choose(&mut rng).expect("non-empty"),
                titles.choose(&mut rng).expect("non-empty")
            );
            let own = rng.gen_range(4..=8);
            let mut chosen: Vec<&str> = skills.choose_multiple(&mut rng, own).copied().collect();
            let shared = rng.gen_range(1..=3);
            chosen.extend(SHARED_SKILLS.choose_multiple(&mut rng, shared));
            // One skill of another family in a fifth of the jobs: overlap between families.
            if rng.gen_bool(0.2) {
                let other = FAMILIES.choose(&mut rng).expect("non-empty").1;
                chosen.push(other.choose(&mut rng).expect("non-empty"));
            }
            chosen.sort_unstable();
            chosen.dedup();
            JobDocument {
                job_posting_id: JobId::parse(format!("job-{i:07}")).expect("valid id"),
                title,
                skills: chosen
                    .into_iter()
                    .map(|name| WeightedSkill {
                        name: name.to_string().into(),
                        confidence: rng.gen_range(0.4..1.0),
                    })
                    .collect(),
                embedding: None,
            }
        })
        .collect()
}

/// The family synthetic job `i` was drawn from.
pub fn family_of(i: usize) -> usize {
    i % FAMILIES.len()
}
