//! `Limits`: how much one run may use, so one bad run never harms another.
//!
//! The admin sets them in `<data dir>/limits.yaml`: `run:` what every run gets, `most:` the
//! most a workflow may ask for with its own `limits:`. A run past a bound fails with a message
//! naming the step and the bound: memory (`kobo serve` runs each run in a process of its own,
//! which stops alone when it needs more), the number of output files, their total size.
//!
//! ```yaml
//! run:  { memory_mb: 1024, outputs: 20, output_mb: 200 }
//! most: { memory_mb: 4096, outputs: 100, output_mb: 2000 }
//! ```

use serde::Deserialize;
use std::path::Path;

/// Bounds for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Memory the run's process may use beyond what it had at the start, in MB.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Output files a run may write.
    #[serde(default = "default_outputs")]
    pub outputs: u64,
    /// Total size of a run's output files, in MB.
    #[serde(default = "default_output_mb")]
    pub output_mb: u64,
}

fn default_memory_mb() -> u64 {
    1024
}
fn default_outputs() -> u64 {
    20
}
fn default_output_mb() -> u64 {
    200
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_mb: default_memory_mb(),
            outputs: default_outputs(),
            output_mb: default_output_mb(),
        }
    }
}

/// What a workflow asks for (`limits:` at its top); each missing value keeps the admin's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowLimits {
    pub memory_mb: Option<u64>,
    pub outputs: Option<u64>,
    pub output_mb: Option<u64>,
}

/// `limits.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// What every run gets.
    #[serde(default)]
    pub run: Limits,
    /// The most a workflow's `limits:` may ask for.
    #[serde(default = "most_default")]
    pub most: Limits,
}

fn most_default() -> Limits {
    Limits {
        memory_mb: 4096,
        outputs: 100,
        output_mb: 2000,
    }
}

impl Default for LimitsFile {
    fn default() -> LimitsFile {
        LimitsFile {
            run: Limits::default(),
            most: most_default(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LimitsError {
    #[error("cannot read `{path}`: {message}")]
    Read { path: String, message: String },
    #[error(
        "`{path}` has a mistake: {message}; it holds `run:` and `most:`, each with `memory_mb`, `outputs` and `output_mb`"
    )]
    Parse { path: String, message: String },
    #[error(
        "the workflow asks for `limits: {{ {what}: {asked} }}`, but the admin allows at most {most} (`most:` in limits.yaml); ask the admin, or ask for less"
    )]
    TooMuch {
        what: &'static str,
        asked: u64,
        most: u64,
    },
}

impl LimitsFile {
    /// `<home>/limits.yaml`, or the defaults when there is none.
    pub fn load(home: &Path) -> Result<LimitsFile, LimitsError> {
        let path = crate::data_dir::DataDir::new(home).limits_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LimitsFile::default()),
            Err(e) => {
                return Err(LimitsError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        if text.trim().is_empty() {
            return Ok(LimitsFile::default());
        }
        serde_yaml::from_str(&text).map_err(|e| LimitsError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The limits of a run of a workflow asking for `asked`.
    pub fn for_workflow(&self, asked: &WorkflowLimits) -> Result<Limits, LimitsError> {
        let pick = |what: &'static str, asked: Option<u64>, run: u64, most: u64| match asked {
            None => Ok(run),
            Some(a) if a <= most => Ok(a),
            Some(a) => Err(LimitsError::TooMuch {
                what,
                asked: a,
                most,
            }),
        };
        Ok(Limits {
            memory_mb: pick(
                "memory_mb",
                asked.memory_mb,
                self.run.memory_mb,
                self.most.memory_mb,
            )?,
            outputs: pick(
                "outputs",
                asked.outputs,
                self.run.outputs,
                self.most.outputs,
            )?,
            output_mb: pick(
                "output_mb",
                asked.output_mb,
                self.run.output_mb,
                self.most.output_mb,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_gets_the_admins_limits_and_may_ask_for_more_up_to_the_most() {
        let f: LimitsFile =
            serde_yaml::from_str("run: { outputs: 3 }\nmost: { outputs: 10, memory_mb: 2048 }\n")
                .unwrap();
        let none = f.for_workflow(&WorkflowLimits::default()).unwrap();
        assert_eq!((none.outputs, none.memory_mb), (3, 1024));
        let more = WorkflowLimits {
            outputs: Some(10),
            ..Default::default()
        };
        assert_eq!(f.for_workflow(&more).unwrap().outputs, 10);
        let too_much = WorkflowLimits {
            memory_mb: Some(8192),
            ..Default::default()
        };
        let err = f.for_workflow(&too_much).unwrap_err();
        assert!(err.to_string().contains("at most 2048"), "{err}");
        assert!(serde_yaml::from_str::<LimitsFile>("run: { memory: 1 }").is_err());
    }
}
