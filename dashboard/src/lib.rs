//! kobo dashboard: the web dashboard for reviewers, trainees and clients (see issue "Review dashboard").
