//! What the back office's file uploads share: reading a
//! `multipart/form-data` form (its text fields and one `file`), and opening
//! an uploaded CSV file as its headings and rows, whatever spreadsheet
//! wrote it (a UTF-8 byte-order mark, spaces around cells, short rows).

use std::collections::BTreeMap;

use axum::extract::Multipart;

use crate::error::ApiError;

/// A form with a file, as sent.
#[derive(Debug, Default)]
pub(super) struct Upload {
    /// The text fields by name.
    pub(super) fields: BTreeMap<String, String>,
    /// The `file` field's bytes (empty if none was chosen).
    pub(super) file: Vec<u8>,
}

impl Upload {
    /// Reads the whole form.
    pub(super) async fn read(mut multipart: Multipart) -> Result<Self, ApiError> {
        let unreadable =
            |_| ApiError::BadRequest("the form could not be read; choose the file again".into());
        let mut upload = Self::default();
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                upload.file = field.bytes().await.map_err(unreadable)?.to_vec();
            } else {
                let text = field.text().await.map_err(unreadable)?;
                upload.fields.insert(name, text);
            }
        }
        Ok(upload)
    }

    /// A text field, trimmed; empty if it was not sent.
    pub(super) fn field(&self, name: &str) -> String {
        self.fields
            .get(name)
            .map_or_else(String::new, |value| value.trim().to_owned())
    }
}

/// A CSV file opened: its headings (lower case, without spaces, `_` or
/// `-`) and a reader of the rows after them.
pub(super) struct CsvFile<'f> {
    pub(super) headings: Vec<String>,
    pub(super) rows: csv::Reader<&'f [u8]>,
}

/// Opens `file` (called `what` in the messages) as CSV, or says why not.
pub(super) fn open_csv<'f>(file: &'f [u8], what: &str) -> Result<CsvFile<'f>, String> {
    let file = file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file);
    if std::str::from_utf8(file).is_err() {
        return Err(format!("The {what} must be saved as CSV in UTF-8"));
    }
    let mut rows = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let headings = rows
        .headers()
        .map_err(|_| format!("The {what}'s heading row could not be read"))?
        .iter()
        .map(|heading| heading.to_lowercase().replace([' ', '_', '-'], ""))
        .collect();
    Ok(CsvFile { headings, rows })
}
