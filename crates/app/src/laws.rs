//! The legal basis of a case: law articles imported into the database (`fengqiao laws import
//! DIR`), an article index built from them in memory, the articles recommended for a case, and
//! the 以案释法 sheet of a resolved case. Without an imported corpus the project's curated
//! table of key provisions per dispute type stands in.

use std::collections::HashMap;
use std::sync::Arc;

use fengqiao_domain::access::{Actor, Role};
use fengqiao_domain::case::{CaseState, DisputeType, Outcome};
use fengqiao_domain::law::{
    citation, key_provisions_for, parse_law_markdown, KeyProvision, LawArticle,
};
use fengqiao_domain::unit::UnitKind;
use fengqiao_domain::DomainError;
use fengqiao_search::{LawDoc, LawIndex, LawQuery};
use serde::Serialize;
use utoipa::ToSchema;

use crate::search::blocking;
use crate::{App, AppError, Result};

/// Articles recommended for a case (the type's key provisions first, then what its words find).
pub const RECOMMENDED: usize = 8;

/// The article index and the articles by citation, built from the database on first use and
/// after every import.
#[derive(Default)]
pub(crate) struct Laws {
    loaded: tokio::sync::RwLock<Option<Arc<Corpus>>>,
}

pub(crate) struct Corpus {
    index: LawIndex,
    articles: HashMap<String, LawArticle>,
}

/// What an import read from one file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LawFileReport {
    pub file: String,
    pub law: String,
    pub articles: usize,
    /// Problems with their line numbers; the file's other articles were imported.
    pub problems: Vec<(usize, String)>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LawImportReport {
    pub files: Vec<LawFileReport>,
    /// Articles not held before.
    pub new_articles: u64,
    /// Articles held before whose text was replaced.
    pub replaced_articles: u64,
    /// Articles in the database after the import.
    pub total_articles: usize,
}

/// Where a case's legal basis comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BasisSource {
    /// The imported corpus, by the case's type and text.
    Corpus,
    /// The project's curated key provisions of the case's type (no corpus imported).
    Curated,
}

/// One article recommended for a case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BasisArticle {
    pub law: String,
    /// `第一千零八十四条`.
    pub label: String,
    /// The article's text (from the imported corpus).
    pub text: Option<String>,
    /// The project's one-line summary, when the article is among the type's key provisions.
    pub summary: Option<String>,
    /// Among the key provisions of the case's type.
    pub key_provision: bool,
    /// Words of the case the article's text also has.
    pub shared_words: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegalBasis {
    pub source: BasisSource,
    pub dispute_type: DisputeType,
    pub articles: Vec<BasisArticle>,
}

/// A one-page anonymised account of a resolved case for legal education (以案释法).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseExplainer {
    pub tracking_code: String,
    pub dispute_type: DisputeType,
    /// Town (or county) where it happened: villages are left out.
    pub area: String,
    /// `2026年3月`: the month it was registered.
    pub month: String,
    /// The dispute's text, names replaced by 某, numbers and addresses removed.
    pub facts: String,
    pub unit_kind: Option<UnitKind>,
    pub sessions: usize,
    pub duration_days: Option<i64>,
    /// The agreement, anonymised like the facts.
    pub agreement: String,
    pub basis: LegalBasis,
}

/// The index documents of articles.
pub fn law_docs(articles: &[LawArticle]) -> Vec<LawDoc> {
    articles
        .iter()
        .map(|a| LawDoc {
            citation: a.citation(),
            law: a.law.clone(),
            text: a.text.clone(),
        })
        .collect()
}

impl App {
    /// Imports law files (`(file name, Markdown)`), each read on its own: a file's problems are
    /// reported with their line numbers and its good articles still land.
    pub async fn import_laws(&self, files: &[(String, String)]) -> Result<LawImportReport> {
        let mut reports = Vec::with_capacity(files.len());
        let mut all = Vec::new();
        for (name, content) in files {
            let parsed = parse_law_markdown(content);
            reports.push(LawFileReport {
                file: name.clone(),
                law: parsed.law.clone(),
                articles: parsed.articles.len(),
                problems: parsed.problems,
            });
            all.extend(parsed.articles);
        }
        // One law split over several files (民法典's books) must not repeat an article.
        let mut seen = std::collections::HashSet::new();
        all.retain(|a| seen.insert(a.citation()));
        let now = self.clock.now();
        let new_articles = self.store.put_law_articles(&all, now).await?;
        let corpus = self.reload_laws().await?;
        Ok(LawImportReport {
            files: reports,
            new_articles,
            replaced_articles: all.len() as u64 - new_articles,
            total_articles: corpus.articles.len(),
        })
    }

    /// Rebuilds the article index from the database.
    pub(crate) async fn reload_laws(&self) -> Result<Arc<Corpus>> {
        let articles = self.store.law_articles().await?;
        let docs = law_docs(&articles);
        let index = blocking(move || LawIndex::build(&docs)).await?;
        let corpus = Arc::new(Corpus {
            index,
            articles: articles.into_iter().map(|a| (a.citation(), a)).collect(),
        });
        *self.laws.loaded.write().await = Some(Arc::clone(&corpus));
        Ok(corpus)
    }

    async fn corpus(&self) -> Result<Arc<Corpus>> {
        if let Some(c) = self.laws.loaded.read().await.as_ref() {
            return Ok(Arc::clone(c));
        }
        self.reload_laws().await
    }

    /// Law articles held (0: the curated table is used).
    pub async fn law_article_count(&self) -> Result<usize> {
        Ok(self.corpus().await?.articles.len())
    }

    /// The articles that apply to a text of a dispute type: from the corpus when one is
    /// imported, else the type's key provisions.
    pub async fn legal_basis_for(&self, text: &str, t: DisputeType) -> Result<LegalBasis> {
        let keys = key_provisions_for(t);
        let corpus = self.corpus().await?;
        if corpus.articles.is_empty() {
            return Ok(LegalBasis {
                source: BasisSource::Curated,
                dispute_type: t,
                articles: keys.iter().map(|k| curated(k)).collect(),
            });
        }
        let summaries: HashMap<String, &KeyProvision> =
            keys.iter().map(|k| (k.citation(), *k)).collect();
        let q = law_query(text, t, |c| corpus.articles.contains_key(c));
        let c = Arc::clone(&corpus);
        let hits = blocking(move || c.index.recommend(&q)).await?;
        let articles = hits
            .into_iter()
            .filter_map(|h| {
                let a = corpus.articles.get(&h.citation)?;
                Some(BasisArticle {
                    law: a.law.clone(),
                    label: a.label.clone(),
                    text: Some(a.text.clone()),
                    summary: summaries.get(&h.citation).map(|k| k.summary.clone()),
                    key_provision: h.preferred,
                    shared_words: h.shared_words,
                })
            })
            .collect();
        Ok(LegalBasis {
            source: BasisSource::Corpus,
            dispute_type: t,
            articles,
        })
    }

    /// The articles that apply to case `id`.
    pub async fn legal_basis(&self, actor: &Actor, id: i64) -> Result<LegalBasis> {
        if actor.role == Role::Citizen {
            return Err(DomainError::Forbidden.into());
        }
        let c = self.load_visible(actor, id).await?;
        self.legal_basis_for(&c.state.text, c.state.dispute_type)
            .await
    }

    /// The 以案释法 sheet of a case resolved by an agreement.
    pub async fn case_explainer(&self, actor: &Actor, id: i64) -> Result<CaseExplainer> {
        if actor.role == Role::Citizen {
            return Err(DomainError::Forbidden.into());
        }
        let c = self.load_visible(actor, id).await?;
        let s = &c.state;
        let Some(Outcome::Agreement { agreement }) = &s.outcome else {
            return Err(AppError::NotResolved);
        };
        let (names, hide) = self.identifying(s).await;
        let unit = match s.lead_unit_id {
            Some(u) => self.store.get_unit(u).await?,
            None => None,
        };
        // The town (the village's parent): a village names too few people to stay anonymous.
        let codes: Vec<&str> = s.location.node_path.trim_matches('/').split('/').collect();
        let area_code = if codes.len() >= 3 {
            codes[codes.len() - 2]
        } else {
            codes.last().copied().unwrap_or_default()
        };
        let registered = fengqiao_domain::time::local_date(s.registered_at);
        Ok(CaseExplainer {
            tracking_code: s.tracking_code.clone(),
            dispute_type: s.dispute_type,
            area: self.node_name(area_code).await,
            month: registered.format("%Y年%-m月").to_string(),
            facts: anonymise(&s.text, &names, &hide),
            unit_kind: unit.map(|u| u.kind),
            sessions: s.sessions.len(),
            duration_days: s
                .concluded_at
                .map(|t| (t - s.registered_at).div_euclid(86_400_000)),
            agreement: anonymise(agreement, &names, &hide),
            basis: self.legal_basis_for(&s.text, s.dispute_type).await?,
        })
    }

    /// What identifies a case's people: their names (the parties' and the persons its texts
    /// name), and the texts' addresses and villages with what stands in for them.
    async fn identifying(&self, s: &CaseState) -> (Vec<String>, Vec<(String, &'static str)>) {
        const ADDRESS: &str = "（地址略）";
        let mut names: Vec<String> = s.parties.iter().map(|p| p.name.clone()).collect();
        let mut hide: Vec<(String, &'static str)> = s
            .parties
            .iter()
            .filter_map(|p| p.address.clone())
            .chain(s.location.address.clone())
            .map(|a| (a, ADDRESS))
            .collect();
        if let Ok(analyzer) = self.analyzer().await {
            let at = crate::text::local_time(s.registered_at);
            for text in [Some(&s.text), agreement_of(s)].into_iter().flatten() {
                let Ok(a) = analyzer.analyze(text, at) else {
                    continue;
                };
                names.extend(a.persons.into_iter().map(|p| p.text));
                for p in a.places {
                    if p.kind == "address" {
                        hide.push((p.text, ADDRESS));
                    } else if p.node_code.as_ref().is_some_and(|c| c.len() >= 12) {
                        // A village or grid: only the town is named.
                        hide.push((p.text, "某村"));
                    }
                }
            }
        }
        (names, hide)
    }
}

/// The query for the articles of a text of type `t`: its words, the type's key provisions the
/// corpus holds (`held`) and the laws they come from.
pub fn law_query(text: &str, t: DisputeType, held: impl Fn(&str) -> bool) -> LawQuery {
    let keys = key_provisions_for(t);
    let mut laws: Vec<String> = keys.iter().map(|k| k.law.clone()).collect();
    laws.sort();
    laws.dedup();
    LawQuery {
        text: fengqiao_domain::validate::mask_numbers_in_text(text),
        preferred: keys
            .iter()
            .map(|k| k.citation())
            .filter(|c| held(c))
            .collect(),
        laws,
        limit: RECOMMENDED,
    }
}

fn agreement_of(s: &CaseState) -> Option<&String> {
    match &s.outcome {
        Some(Outcome::Agreement { agreement }) => Some(agreement),
        _ => None,
    }
}

fn curated(k: &KeyProvision) -> BasisArticle {
    BasisArticle {
        law: k.law.clone(),
        label: k.label.clone(),
        text: None,
        summary: Some(k.summary.clone()),
        key_provision: true,
        shared_words: Vec::new(),
    }
}

/// Replaces each person's name by its surname and 某 (two people of one surname become 某甲,
/// 某乙), each `hide` text (addresses, villages; longest first) by what stands in for it, and
/// every run of seven or more digits (phone, ID-card and account numbers) by ＊＊＊.
pub fn anonymise(text: &str, names: &[String], hide: &[(String, &str)]) -> String {
    let mut names: Vec<&str> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| n.chars().count() >= 2 && !n.contains('某'))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // Longest first, so a name inside a longer one is replaced as part of it.
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    let mut out = text.to_string();
    let mut hide: Vec<&(String, &str)> = hide.iter().filter(|h| h.0.chars().count() >= 2).collect();
    hide.sort_by_key(|h| std::cmp::Reverse(h.0.chars().count()));
    for (h, instead) in hide {
        out = out.replace(h.as_str(), instead);
    }
    const ORDINALS: [char; 10] = ['甲', '乙', '丙', '丁', '戊', '己', '庚', '辛', '壬', '癸'];
    let mut assigned: HashMap<&str, String> = HashMap::new();
    for n in &names {
        let Some(surname) = n.chars().next() else {
            continue;
        };
        // A name inside a longer one already replaced keeps that one's alias.
        if assigned.keys().any(|k| k.contains(n)) {
            continue;
        }
        assigned.insert(n, format!("{surname}某"));
    }
    // Ordinals only where one surname stands for several people.
    let mut per_surname: HashMap<char, Vec<&str>> = HashMap::new();
    for n in &names {
        if assigned.contains_key(n) {
            if let Some(s) = n.chars().next() {
                per_surname.entry(s).or_default().push(n);
            }
        }
    }
    for (surname, list) in per_surname {
        if list.len() > 1 {
            for (i, n) in list.into_iter().enumerate() {
                let ordinal = ORDINALS.get(i).copied().unwrap_or('某');
                assigned.insert(n, format!("{surname}某{ordinal}"));
            }
        }
    }
    for n in &names {
        if let Some(alias) = assigned.get(n) {
            out = out.replace(n, alias);
        }
    }
    mask_long_digit_runs(&out)
}

fn mask_long_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push_str("＊＊＊");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (!run.is_empty() && matches!(c, '-' | 'X' | 'x' | '*')) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `中华人民共和国民法典 第一千零八十四条`, for a key provision or an article.
pub fn cite(law: &str, label: &str) -> String {
    citation(law, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_addresses_are_removed() {
        let text = "王建国与邻居王小明因排水沟发生纠纷，王建国电话13812345678，住幸福村3组18号，经幸福村调委会调解，赔偿500元。";
        let out = anonymise(
            text,
            &["王建国".into(), "王小明".into(), "某人".into()],
            &[
                ("幸福村".into(), "某村"),
                ("幸福村3组18号".into(), "（地址略）"),
            ],
        );
        assert!(!out.contains("建国") && !out.contains("小明"), "{out}");
        assert!(out.contains("王某甲") || out.contains("王某乙"), "{out}");
        assert!(
            !out.contains("13812345678") && out.contains("＊＊＊"),
            "{out}"
        );
        assert!(!out.contains("18号") && out.contains("（地址略）"), "{out}");
        assert!(out.contains("500元"), "amounts stay: {out}");
        assert!(
            out.contains("经某村调委会调解") && !out.contains("幸福"),
            "{out}"
        );
        let single = anonymise("李四借了张三5000元", &["张三".into(), "李四".into()], &[]);
        assert_eq!(single, "李某借了张某5000元");
    }
}
