//! Writing a file atomically: the bytes go to a temporary file in the same folder, which
//! is then renamed over the target, so a crash never leaves a half-written spreadsheet.

use super::SheetError;
use super::error::write_failure;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Create `path` with what `fill` writes. `fill`'s own errors pass through unchanged.
pub(crate) fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), SheetError>,
) -> Result<(), SheetError> {
    let io_error = |e: std::io::Error| write_failure(path, &e);
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(SheetError::Write {
            path: path.into(),
            message: format!("the folder `{}` does not exist", folder.display()),
        });
    }
    let temp = tempfile::Builder::new()
        .prefix(".kobo-")
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(io_error)?;
    let mut writer = BufWriter::new(temp.reopen().map_err(io_error)?);
    fill(&mut writer)?;
    writer.flush().map_err(io_error)?;
    let file = writer.into_inner().map_err(|e| io_error(e.into_error()))?;
    file.sync_all().map_err(io_error)?;
    // A temporary file is private (0600); give the result the usual permissions.
    let permissions = match std::fs::metadata(path) {
        Ok(existing) => Some(existing.permissions()),
        Err(_) => default_permissions(&file),
    };
    if let Some(p) = permissions {
        file.set_permissions(p).map_err(io_error)?;
    }
    temp.persist(path).map_err(|e| io_error(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn default_permissions(file: &File) -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    let mut p = file.metadata().ok()?.permissions();
    p.set_mode(0o644);
    Some(p)
}

#[cfg(not(unix))]
fn default_permissions(_file: &File) -> Option<std::fs::Permissions> {
    None
}
