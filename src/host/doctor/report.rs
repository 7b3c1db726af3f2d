//! What a doctor check says (`Check`, `Status`) and the report they make:
//! the types every topic file, the build plan and the module's advice
//! share, kept apart from the table of checks that uses them.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Does not apply here (no NVIDIA GPU, not in a project, ...).
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub message: String,
    /// What to do; always present for `warn` and `fail`.
    pub hint: Option<String>,
}

impl Check {
    pub(crate) fn ok(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Ok,
            message: message.into(),
            hint: None,
        }
    }
    pub(crate) fn skip(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Skip,
            message: message.into(),
            hint: None,
        }
    }
    pub(crate) fn warn(
        id: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check::with_hint(id, Status::Warn, message.into(), hint.into())
    }
    pub(crate) fn fail(
        id: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check::with_hint(id, Status::Fail, message.into(), hint.into())
    }
    pub(crate) fn with_hint(
        id: &'static str,
        status: Status,
        message: String,
        hint: String,
    ) -> Check {
        Check {
            id,
            status,
            message,
            hint: Some(hint),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.summary.fail
    }
}
