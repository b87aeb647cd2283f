//! The console's files, compiled into the binary: nothing is read from disk at run time,
//! and no file outside this list can be served (no path handling at all).

/// (name, content type, body).
pub const ALL: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../console/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/console.css"),
    ),
    ("app.js", JS, include_bytes!("../../console/app.js")),
    ("api.js", JS, include_bytes!("../../console/api.js")),
    ("dom.js", JS, include_bytes!("../../console/dom.js")),
    ("signin.js", JS, include_bytes!("../../console/signin.js")),
    (
        "worklist.js",
        JS,
        include_bytes!("../../console/worklist.js"),
    ),
    ("alert.js", JS, include_bytes!("../../console/alert.js")),
    ("strip.js", JS, include_bytes!("../../console/strip.js")),
    ("patient.js", JS, include_bytes!("../../console/patient.js")),
    ("sweep.js", JS, include_bytes!("../../console/sweep.js")),
    ("trend.js", JS, include_bytes!("../../console/trend.js")),
    (
        "thresholds.js",
        JS,
        include_bytes!("../../console/thresholds.js"),
    ),
    (
        "policy_history.js",
        JS,
        include_bytes!("../../console/policy_history.js"),
    ),
    (
        "breakglass.js",
        JS,
        include_bytes!("../../console/breakglass.js"),
    ),
    ("forms.js", JS, include_bytes!("../../console/forms.js")),
    ("users.js", JS, include_bytes!("../../console/users.js")),
    ("devices.js", JS, include_bytes!("../../console/devices.js")),
    ("audit.js", JS, include_bytes!("../../console/audit.js")),
    ("chart.js", JS, include_bytes!("../../console/chart.js")),
    ("fatigue.js", JS, include_bytes!("../../console/fatigue.js")),
];

const JS: &str = "text/javascript; charset=utf-8";

pub fn find(name: &str) -> Option<(&'static str, &'static [u8])> {
    ALL.iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, content_type, body)| (*content_type, *body))
}
