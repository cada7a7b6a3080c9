//! `report.html`: one self-contained page (inline CSS, a little optional
//! inline JS, no external resource) for people reading a run in a browser:
//! the header, the summary per tag, then every scenario with the truth
//! tables of each round. Failures and errors come first and are open;
//! passes are collapsed; scenarios declared unsupported are set apart, and
//! so are loader checks (`expectInvalid` files), which are not counted with
//! the enforcer's scenarios. A scenario judged against the model (no
//! hand-written `expect`) carries a MODEL badge.
//!
//! Cells carry the marks of [`truth_table::cell_text`] as well as a colour;
//! a mismatching cell gives the model's verdict, who it suspects and its
//! explanation on hover and links to the same text in the list under its
//! table. Nothing is recomputed: this is a view of the result model.

use std::fmt::Write;

use super::markdown::header_rows;
use super::truth_table::{self, Mark, TruthTable};
use crate::results::{
    ExpectationSource, Mode, Observed, Outcome, ProbeResult, Report, RoundResult, ScenarioResult,
    Status, Summary, Suspect, Transition, TransitionKind,
};

/// Mismatch lists under a table with more entries than this start closed.
const OPEN_LIST_MAX: usize = 20;

const CSS: &str = r#"
:root{color-scheme:light;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#fff}
body{margin:0 auto;padding:1rem;max-width:84rem}
h1{font-size:1.45rem;margin:.2rem 0 .6rem}
h2{font-size:1.2rem;margin:1.6rem 0 .5rem;padding-bottom:.2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem;margin:.8rem 0 .3rem}
code,pre,.tt,.st{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace}
a{color:#0550ae}
table{border-collapse:collapse}
.w{max-width:100%;overflow-x:auto}
.kv th{text-align:left;padding:1px 1em 1px 0;vertical-align:top;white-space:nowrap}
.kv td{overflow-wrap:anywhere}
.tot{font-size:1.05rem;margin:.6rem 0}
.tot b{font-size:1.15rem}
.nav{margin:.3rem 0}
.tg th,.tg td{border:1px solid #d0d7de;padding:2px 8px}
.tg thead th{background:#f6f8fa}
.tg td{text-align:right}
.tg th[scope=row]{text-align:left;font-weight:normal}
.tg td.bad{background:#ffebe9;font-weight:700}
.lg{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;margin:.4rem 0;padding:0;list-style:none}
.lg li{display:flex;align-items:center;gap:.4rem}
.lg span,.tt td{font:12px/1.2 ui-monospace,monospace;text-align:center}
.lg span{display:inline-block;min-width:2.2em;padding:2px 0;border:1px solid #afb8c1}
.tt caption{text-align:left;font-weight:600;padding:0 0 2px;white-space:nowrap}
.tt th,.tt td{border:1px solid #afb8c1;padding:2px 5px;min-width:2.2em}
.tt th{background:#f6f8fa;font:600 12px/1.2 ui-monospace,monospace;white-space:nowrap}
.tt th[scope=row]{text-align:left;position:sticky;left:0}
.tt td a{color:inherit;text-decoration:none;display:block}
.y{background:#dafbe1;color:#116329}
.n{background:#eaeef2;color:#57606a}
.fa{background:#ff8182;color:#4c0006;font-weight:700}
.fd{background:#b4a7f5;color:#1e0a5c;font-weight:700}
.fe{background:#ffd33d;color:#3d2a00;font-weight:700}
.se{background-image:linear-gradient(135deg,#1f2328 7px,transparent 7px)}
.ts{display:flex;flex-wrap:wrap;gap:.8rem 1.6rem;align-items:flex-start;margin:.3rem 0}
.ts>.w{min-width:0}
.po{min-width:0;max-width:44rem;flex:1 1 22rem}
.po>summary{cursor:pointer;font-weight:600}
.po pre{max-height:32rem;overflow:auto;font-size:.85em}
.st{display:inline-block;padding:0 .45em;border-radius:3px;font-size:12px;font-weight:700;vertical-align:1px}
.st.p{background:#1a7f37;color:#fff}
.st.f{background:#cf222e;color:#fff}
.st.e{background:#bf8700;color:#fff}
.st.u{background:#6e7781;color:#fff}
.st.z{background:#eaeef2;color:#57606a}
.st.m{background:#8250df;color:#fff}
details.sc{border:1px solid #d0d7de;border-radius:6px;margin:.3rem 0}
details.sc>summary{padding:.35rem .6rem;cursor:pointer;overflow-wrap:anywhere}
details.sc[open]>summary{border-bottom:1px solid #d0d7de;background:#f6f8fa}
details.sc.f,details.sc.e{border-left:5px solid #cf222e}
details.sc.e{border-left-color:#bf8700}
.sm{color:#57606a;font-size:.9em}
.bd{padding:.3rem .9rem .6rem}
.bd>p{margin:.35rem 0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:.4rem .6rem;margin:.4rem 0}
.rd{margin:.6rem 0 .9rem}
.rd>summary{cursor:pointer}
.rd>summary h3{display:inline;font-size:1rem}
.mm>summary{cursor:pointer;font-weight:600}
.mm ol{margin:.3rem 0;padding-left:1.6rem}
.mm li{margin:.25rem 0;overflow-wrap:anywhere}
.mm li:target{background:#fff8c5}
.ex{white-space:pre-wrap;color:#424a53;font-size:.92em}
.ix{columns:18rem;column-gap:2rem;margin:.3rem 0;padding-left:0;list-style-position:inside}
.ix li{break-inside:avoid}
.tl{margin:.3rem 0 .6rem}
.tl li{margin:.3rem 0;overflow-wrap:anywhere}
.tl svg{display:block;max-width:100%;margin-top:.15rem}
"#;

/// After load: checks that no table sticks out of the page, except inside
/// its scroll container, and says so in `<html data-layout>` (ci/check-html.sh
/// reads it); with `#check` in the address it opens every `<details>` first.
/// Also adds expand/collapse buttons; the page reads the same without it.
const JS: &str = r##"
(function(){
var d=document,h=d.documentElement,W=h.clientWidth,bad=[],t=d.querySelectorAll("table");
if(location.hash=="#check")d.querySelectorAll("details").forEach(function(e){e.open=true});
t.forEach(function(e){
var w=e.parentElement,r=w.getBoundingClientRect();
if(!w.classList.contains("w")||getComputedStyle(w).overflowX!="auto")bad.push("table outside a scroll container");
else if(r.width>0&&(r.left<-1||r.right>W+1))bad.push("a scroll container ends at "+Math.round(r.right)+" px, the page at "+W);
});
if(h.scrollWidth>W+1)bad.push("the page scrolls sideways: "+h.scrollWidth+" px wide, the window "+W);
h.setAttribute("data-layout",bad.length?"overflow: "+bad.slice(0,3).join("; "):"ok");
h.setAttribute("data-tables",String(t.length));
var n=d.getElementById("nav");
if(n)[["expand all",true],["collapse all",false]].forEach(function(a){
var b=d.createElement("button");b.type="button";b.textContent=a[0];
b.onclick=function(){d.querySelectorAll("details.sc").forEach(function(e){e.open=a[1]})};
n.append(" ",b)});
})();
"##;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(report: &Report) -> String {
    let mut h = String::with_capacity(256 * 1024);
    document_head(&mut h, report);
    let sections = Sections::of(report);
    page_header(&mut h, report, &sections);

    tag_table(&mut h, report);

    h.push_str(
        "<section id=legend>\n<h2>Reading the truth tables</h2>\n\
         <p>One table per round and port/protocol: rows are sources (from), columns destinations (to). \
         Hover a marked cell, or follow it, for the model's explanation.</p>\n",
    );
    legend(&mut h);
    h.push_str("</section>\n");

    scenario_sections(&mut h, report, &sections);
    let _ = write!(h, "<script>{JS}</script>\n</body>\n</html>\n");
    h
}

/// The scenarios of a report, by the section of the page that shows them.
struct Sections<'a> {
    bad: Vec<(usize, &'a ScenarioResult)>,
    passed: Vec<(usize, &'a ScenarioResult)>,
    unsupported: Vec<(usize, &'a ScenarioResult)>,
    not_applicable: Vec<(usize, &'a ScenarioResult)>,
    checks: Vec<(usize, &'a ScenarioResult)>,
}

impl<'a> Sections<'a> {
    fn of(report: &'a Report) -> Self {
        let of = |status: Status| {
            report
                .scenarios
                .iter()
                .enumerate()
                .filter(move |(_, r)| r.status == status && !r.is_loader_check())
        };
        Sections {
            bad: of(Status::Fail).chain(of(Status::Error)).collect(),
            passed: of(Status::Pass).collect(),
            unsupported: of(Status::Unsupported).collect(),
            not_applicable: of(Status::NotApplicable).collect(),
            checks: report
                .scenarios
                .iter()
                .enumerate()
                .filter(|(_, r)| r.is_loader_check())
                .collect(),
        }
    }
}

/// From the doctype to `<body>`: the title names the enforcer and the verdict.
fn document_head(h: &mut String, report: &Report) {
    let s = &report.summary;
    let who = report
        .enforcer
        .as_ref()
        .map(|e| format!("{} {}", e.name, e.version))
        .unwrap_or_else(|| format!("{:?}", report.mode).to_lowercase());
    let verdict = if s.all_passed() {
        "all passed".to_string()
    } else {
        format!("{} failed, {} errors", s.failed, s.errors)
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\n\
         <title>netpol conformance: {} ({})</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(&who),
        escape(&verdict)
    );
}

/// The `<header>`: the run's facts, the totals and the links to the sections.
fn page_header(h: &mut String, report: &Report, sections: &Sections<'_>) {
    let s = &report.summary;
    h.push_str("<header>\n<h1>netpol conformance report</h1>\n<div class=w><table class=kv>\n");
    for (k, v) in header_rows(report) {
        let _ = writeln!(h, "<tr><th scope=row>{k}</th><td>{}</td></tr>", escape(&v));
    }
    h.push_str("</table></div>\n");
    // Counts of zero are grey: only what happened stands out.
    let count = |class: &str, n: usize, what: &str| {
        format!(
            "<span class=\"st {}\">{n} {what}</span>",
            if n == 0 { "z" } else { class }
        )
    };
    let e = &s.enforcer;
    let _ = writeln!(
        h,
        "<p class=tot>{}: <b>{}</b> scenarios: {} {} {} {}<br>{} probes, {} failed, {} errors</p>",
        escape(&super::capitalized(&super::tested(report))),
        e.scenarios,
        count("p", e.passed, "passed"),
        count("f", e.failed, "failed"),
        count("e", e.errors, "errors"),
        count("u", e.unsupported, "unsupported (declared)"),
        s.probes,
        s.probes_failed,
        s.probes_errors
    );
    let l = &s.loader_checks;
    if l.scenarios > 0 {
        let _ = writeln!(
            h,
            "<p class=tot>{}: <b>{}</b> files: {} {} {}</p>",
            escape(&super::capitalized(super::LOADER_CHECKS)),
            l.scenarios,
            count("p", l.passed, "passed"),
            count("f", l.failed, "failed"),
            count("e", l.errors, "errors"),
        );
    }
    if let Some(line) = super::model_line(report) {
        let _ = writeln!(
            h,
            "<p class=tot><span class=\"st m\">MODEL</span> {}</p>",
            escape(&line)
        );
    }

    h.push_str("<p class=nav id=nav>Sections: <a href=\"#tags\">by tag</a>");
    for (id, title, n) in [
        ("bad", "failures and errors", sections.bad.len()),
        ("pass", "passed", sections.passed.len()),
        (
            "unsup",
            "unsupported (declared)",
            sections.unsupported.len(),
        ),
        (
            "na",
            "not applicable in these IP families",
            sections.not_applicable.len(),
        ),
        ("loader", "loader checks", sections.checks.len()),
    ] {
        if n > 0 {
            let _ = write!(h, " · <a href=\"#{id}\">{title} ({n})</a>");
        }
    }
    h.push_str("</p>\n</header>\n");
}

/// The scenarios, section by section: failures and errors open, the rest closed.
fn scenario_sections(h: &mut String, report: &Report, sections: &Sections<'_>) {
    let Sections {
        bad,
        passed,
        unsupported,
        not_applicable,
        checks,
    } = sections;
    let observer = match report.mode {
        Mode::Run => "enforcer",
        Mode::Simulate => "model",
    };
    if !bad.is_empty() {
        let _ = writeln!(
            h,
            "<section id=bad>\n<h2>Failures and errors ({})</h2>",
            bad.len()
        );
        if bad.len() > 1 {
            h.push_str("<ol class=ix>");
            for (i, r) in bad {
                let _ = write!(
                    h,
                    "<li><a href=\"#s{i}\">{}</a> {}</li>",
                    escape(&r.name),
                    badge(r.status)
                );
            }
            h.push_str("</ol>\n");
        }
        for (i, r) in bad {
            scenario(h, *i, r, true, observer);
        }
        h.push_str("</section>\n");
    }
    if !passed.is_empty() {
        let _ = writeln!(h, "<section id=pass>\n<h2>Passed ({})</h2>", passed.len());
        for (i, r) in passed {
            scenario(h, *i, r, false, observer);
        }
        h.push_str("</section>\n");
    }
    if !unsupported.is_empty() {
        let _ = writeln!(
            h,
            "<section id=unsup>\n<h2>Unsupported (declared) ({})</h2>\n\
             <p>Not run: these scenarios need a feature the implementation declares unsupported. Not failures.</p>",
            unsupported.len()
        );
        for (i, r) in unsupported {
            scenario(h, *i, r, false, observer);
        }
        h.push_str("</section>\n");
    }
    if !not_applicable.is_empty() {
        let _ = writeln!(
            h,
            "<section id=na>\n<h2>Not applicable in these IP families ({})</h2>\n\
             <p>Not run (<code>--ip-families</code>): these scenarios name IP addresses, which mean nothing in another family. Not passes, not failures.</p>",
            not_applicable.len()
        );
        for (i, r) in not_applicable {
            scenario(h, *i, r, false, observer);
        }
        h.push_str("</section>\n");
    }
    if !checks.is_empty() {
        let _ = writeln!(
            h,
            "<section id=loader>\n<h2>Loader checks ({})</h2>\n\
             <p>Each file must be rejected when loaded, naming its <code>expectInvalid</code> field path. \
             No enforcer is involved: these are not counted with its scenarios.</p>",
            checks.len()
        );
        for (i, r) in checks {
            scenario(h, *i, r, r.status != Status::Pass, observer);
        }
        h.push_str("</section>\n");
    }
}

fn badge(status: Status) -> &'static str {
    match status {
        Status::Pass => "<span class=\"st p\">PASS</span>",
        Status::Fail => "<span class=\"st f\">FAIL</span>",
        Status::Error => "<span class=\"st e\">ERROR</span>",
        Status::Unsupported => "<span class=\"st u\">UNSUPPORTED</span>",
        Status::NotApplicable => "<span class=\"st u\">N/A</span>",
    }
}

fn status_class(status: Status) -> &'static str {
    match status {
        Status::Pass => "p",
        Status::Fail => "f",
        Status::Error => "e",
        Status::Unsupported | Status::NotApplicable => "u",
    }
}

fn tag_table(h: &mut String, report: &Report) {
    h.push_str(
        "<section id=tags>\n<h2>By tag</h2>\n<p>Every scenario but the loader checks, which are counted apart.</p>\n<div class=w><table class=tg>\n\
         <thead><tr><th scope=col>tag</th><th scope=col>scenarios</th><th scope=col>passed</th>\
         <th scope=col>failed</th><th scope=col>errors</th><th scope=col>unsupported</th></tr></thead>\n<tbody>\n",
    );
    for (tag, t) in Summary::by_tag(&report.scenarios) {
        let mark = |n: usize| if n > 0 { " class=bad" } else { "" };
        let _ = writeln!(
            h,
            "<tr><th scope=row>{}</th><td>{}</td><td>{}</td><td{}>{}</td><td{}>{}</td><td>{}</td></tr>",
            escape(&tag),
            t.scenarios,
            t.passed,
            mark(t.failed),
            t.failed,
            mark(t.errors),
            t.errors,
            t.unsupported
        );
    }
    h.push_str("</tbody></table></div>\n</section>\n");
}

fn legend(h: &mut String) {
    h.push_str(
        "<ul class=lg aria-label=legend>\
         <li><span class=y>.</span>allowed, as expected</li>\
         <li><span class=n>x</span>denied, as expected</li>\
         <li><span class=fa>A!</span>allowed, but expected denied</li>\
         <li><span class=fd>D!</span>denied, but expected allowed</li>\
         <li><span class=fe>E!</span>error: the probe could not be carried out</li>\
         <li><span class=\"fa se\">A!</span>black corner: the model sides with the observation (check the expectation)</li>\
         <li><span>&nbsp;</span>not probed</li>\
         </ul>\n",
    );
}

/// The class of a cell: one per mark, plus `se` when the model sides with
/// the observation.
fn cell_class(p: &ProbeResult) -> &'static str {
    match (Mark::of(p), p.suspect()) {
        (Mark::Allowed, _) => "y",
        (Mark::Denied, _) => "n",
        (Mark::UnexpectedAllow, Some(Suspect::Expectation)) => "fa se",
        (Mark::UnexpectedAllow, _) => "fa",
        (Mark::UnexpectedDeny, Some(Suspect::Expectation)) => "fd se",
        (Mark::UnexpectedDeny, _) => "fd",
        (Mark::Error, _) => "fe",
    }
}

/// What a probe that did not pass got, and what the model says: which
/// verdict, and whom it suspects.
fn verdict_line(p: &ProbeResult, t: &TruthTable<'_>, observer: &str) -> (String, Option<String>) {
    let observed = match p.result {
        Outcome::Error => format!("error: {}", p.error.as_deref().unwrap_or("unknown")),
        _ => format!("observed {:?}", p.observed).to_lowercase(),
    };
    let mut line = format!(
        "{} → {} {}: expected {}, {observed}",
        p.from,
        p.to,
        t.caption(),
        p.expected
    );
    if let Some(m) = p.model {
        let _ = write!(line, "; model: {m}");
    }
    let suspect = match p.suspect() {
        Some(Suspect::Observed) => Some(format!(
            "Suspect: the {observer} (the model agrees with the expectation)"
        )),
        Some(Suspect::Expectation) => Some(
            "Suspect: the expectation (the model agrees with what was observed: check the scenario's expect)"
                .to_string(),
        ),
        None => None,
    };
    (line, suspect)
}

fn scenario(h: &mut String, i: usize, r: &ScenarioResult, open: bool, observer: &str) {
    let probes: usize = r.rounds.iter().map(|x| x.probes.len()).sum();
    let not_passed = r
        .rounds
        .iter()
        .flat_map(|x| &x.probes)
        .filter(|p| p.result != Outcome::Pass)
        .count();
    let mut what = match (&r.expect_invalid, r.rounds.len()) {
        (Some(field), _) => format!("loader check: expectInvalid {field}"),
        (None, _) if r.status == Status::Unsupported && r.needs.is_empty() => {
            "declared unsupported".to_string()
        }
        (None, _) if r.status == Status::Unsupported => {
            format!("needs {}", crate::features::list(&r.needs))
        }
        (None, 0) => "not run".to_string(),
        (None, n) if not_passed > 0 => format!(
            "{not_passed} of {probes} probes did not pass, {n} round{}",
            if n == 1 { "" } else { "s" }
        ),
        (None, n) => format!(
            "{probes} probes, {n} round{}",
            if n == 1 { "" } else { "s" }
        ),
    };
    let model = r.model_note();
    if let Some(note) = &model {
        what.push_str("; ");
        what.push_str(note);
    }
    let _ = write!(
        h,
        "<details class=\"sc {}\" id=s{i}{}>\n<summary>{}{} <b>{}</b> <span class=sm>({})</span></summary>\n<div class=bd>\n",
        status_class(r.status),
        if open { " open" } else { "" },
        badge(r.status),
        if model.is_some() {
            " <span class=\"st m\">MODEL</span>"
        } else {
            ""
        },
        escape(&r.name),
        escape(&what)
    );
    let _ = write!(h, "<p><code>{}</code>", escape(&r.file));
    if !r.tags.is_empty() {
        let _ = write!(h, " · tags: {}", escape(&r.tags.join(", ")));
    }
    if !r.needs.is_empty() {
        let _ = write!(h, " · needs: {}", escape(&crate::features::list(&r.needs)));
    }
    let _ = writeln!(h, " · {:.1} ms</p>", r.duration_ms);
    if let Some(d) = &r.description {
        let _ = writeln!(h, "<p>{}</p>", escape(d.trim()));
    }
    if let Some(m) = &r.message {
        let _ = writeln!(h, "<pre>{}</pre>", escape(m.trim_end()));
    }
    if let Some(k) = &r.kept {
        let _ = writeln!(h, "<pre>{}</pre>", escape(k.trim_end()));
    }
    if open && not_passed > 0 {
        legend(h);
    }
    for (ri, round) in r.rounds.iter().enumerate() {
        let source = match round.expectation {
            ExpectationSource::Scenario => "the scenario's expect",
            ExpectationSource::Model => "the model (no expect in the scenario)",
        };
        let sync = change_text(round);
        let round_bad = round
            .probes
            .iter()
            .filter(|p| p.result != Outcome::Pass)
            .count();
        let transitions = round.watch.as_ref().map_or(&[][..], |w| &w.transitions[..]);
        // In a scenario that did not pass, rounds that did are closed.
        let round_open = round_bad > 0 || !transitions.is_empty() || not_passed == 0;
        let tally = if round_bad > 0 {
            format!("{round_bad} of {} probes did not pass", round.probes.len())
        } else {
            format!("all {} probes passed", round.probes.len())
        };
        let _ = writeln!(
            h,
            "<details class=rd{}>\n<summary><h3>Round {}</h3> <span class=sm>({tally}; expected verdicts from {source}{sync})</span></summary>\n<div class=ts>",
            if round_open { " open" } else { "" },
            escape(&round.name),
        );
        if let Some(line) = super::established_line(round) {
            let _ = writeln!(h, "<p class=sm>{}</p>", escape(&line));
        }
        timelines(h, round, transitions);
        let tables = truth_table::tables(round);
        for (ti, t) in tables.iter().enumerate() {
            table(h, &format!("{i}-{ri}-{ti}"), &round.name, t, observer);
        }
        // Beside the tables: what was in force when they went wrong.
        if let Some(yaml) = &round.policies {
            let _ = writeln!(
                h,
                "<details class=po open><summary>Policies in force</summary><pre>{}</pre></details>",
                escape(yaml)
            );
        }
        h.push_str("</div>\n");
        for (ti, t) in tables.iter().enumerate() {
            mismatch_list(h, &format!("{i}-{ri}-{ti}"), t, observer);
        }
        h.push_str("</details>\n");
    }
    h.push_str("</div>\n</details>\n");
}

/// `; sync 12.3 ms; converged ...; 14 probes watched during the change, 0
/// leaks or outages`: how the round's change went, for its heading.
fn change_text(round: &RoundResult) -> String {
    let mut text = round
        .sync_ms
        .map(|ms| format!("; sync {ms:.1} ms"))
        .unwrap_or_default();
    if let Some(c) = &round.convergence {
        let _ = write!(text, "; {}", super::convergence_text(c));
    }
    if let Some(w) = &round.watch {
        let _ = write!(
            text,
            "; {} probes watched during the change, {} leaks or outages",
            w.pairs,
            w.transitions.len()
        );
    }
    text
}

/// A round's leaks and outages, each with its timeline: one mark per watch
/// probe at the time it was sent (grey: as both states say; red: the other
/// verdict; amber: an error), on the scale of the whole watch.
fn timelines(h: &mut String, round: &RoundResult, transitions: &[Transition]) {
    if transitions.is_empty() {
        return;
    }
    let span = round.watch.as_ref().map_or(1.0, |w| w.ms).max(1.0);
    h.push_str("<p class=sm>During the change: each mark is a watch probe, placed at the time it was sent (the line spans the whole watch): red, the verdict neither state gives; grey, as both say; amber, an error.</p>\n<ol class=tl>\n");
    for t in transitions {
        let _ = write!(
            h,
            "<li>{}<svg width=600 height=22 viewBox=\"0 0 600 22\" role=img aria-label=\"timeline: {}\"><line x1=0 y1=11 x2=600 y2=11 stroke=\"#d0d7de\"/>",
            escape(&super::transition_line(round, t)),
            super::timeline_marks(t)
        );
        for sample in &t.timeline {
            let x = (sample.at_ms / span * 596.0).clamp(0.0, 596.0);
            let (fill, tip) = match (sample.observed, t.kind) {
                (Observed::Error, _) => ("#bf8700", "error"),
                (Observed::Allowed, TransitionKind::Leak) => ("#cf222e", "allowed"),
                (Observed::Denied, TransitionKind::Outage) => ("#cf222e", "denied"),
                (Observed::Allowed, _) => ("#8c959f", "allowed"),
                (Observed::Denied, _) => ("#8c959f", "denied"),
            };
            let _ = write!(
                h,
                "<rect x=\"{x:.1}\" y=4 width=4 height=14 fill=\"{fill}\"><title>{:.1} ms: {tip}</title></rect>",
                sample.at_ms
            );
        }
        let _ = writeln!(
            h,
            "<text x=598 y=21 font-size=9 text-anchor=end fill=\"#57606a\">{}</text></svg></li>",
            super::duration(span)
        );
    }
    h.push_str("</ol>\n");
}

fn table(h: &mut String, id: &str, round: &str, t: &TruthTable<'_>, observer: &str) {
    let _ = write!(
        h,
        "<div class=w><table class=tt><caption>{}</caption>\n<tr><th scope=col title=\"rows: from, columns: to (round {})\">from \\ to</th>",
        t.caption(),
        escape(round)
    );
    for d in &t.destinations {
        let _ = write!(h, "<th scope=col>{}</th>", escape(d));
    }
    h.push_str("</tr>\n");
    let mut n = 0;
    for (src, row) in t.sources.iter().zip(&t.cells) {
        let _ = write!(h, "<tr><th scope=row>{}</th>", escape(src));
        for c in row {
            match c {
                None => h.push_str("<td></td>"),
                Some(p) if p.result == Outcome::Pass => {
                    let _ = write!(
                        h,
                        "<td class={}>{}</td>",
                        cell_class(p),
                        truth_table::cell_text(Some(p))
                    );
                }
                Some(p) => {
                    n += 1;
                    let (mut title, suspect) = verdict_line(p, t, observer);
                    for more in suspect.iter().chain(&p.explanation) {
                        title.push('\n');
                        title.push_str(more);
                    }
                    let _ = write!(
                        h,
                        "<td class=\"{}\" title=\"{}\"><a href=\"#m{id}-{n}\">{}</a></td>",
                        cell_class(p),
                        escape(&title),
                        truth_table::cell_text(Some(p))
                    );
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
}

/// The probes of a table that did not pass, in the order of its cells (the
/// numbering the cells link to).
fn mismatch_list(h: &mut String, id: &str, t: &TruthTable<'_>, observer: &str) {
    let bad: Vec<&ProbeResult> = t
        .cells
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|p| p.result != Outcome::Pass)
        .collect();
    if bad.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<details class=mm{}><summary>{}: {} probe{} did not pass</summary>\n<ol>\n",
        if bad.len() <= OPEN_LIST_MAX {
            " open"
        } else {
            ""
        },
        t.caption(),
        bad.len(),
        if bad.len() == 1 { "" } else { "s" }
    );
    for (k, p) in bad.iter().enumerate() {
        let (line, suspect) = verdict_line(p, t, observer);
        let _ = write!(
            h,
            "<li id=m{id}-{}><span class=\"st {}\">{}</span> {}",
            k + 1,
            cell_class(p),
            truth_table::cell_text(Some(p)),
            escape(&line)
        );
        if let Some(s) = suspect {
            let _ = write!(h, ". <b>{}</b>", escape(&s));
        }
        if let Some(e) = &p.explanation {
            let _ = write!(h, "<div class=ex>{}</div>", escape(e));
        }
        h.push_str("</li>\n");
    }
    h.push_str("</ol>\n</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
