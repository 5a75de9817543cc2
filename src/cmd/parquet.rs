//! `--format parquet` for `export events` and `export projection catalog`: rows buffered per
//! column and written as a Snappy-compressed row group every [`ROW_GROUP`] rows (bounded memory),
//! through the `parquet` crate's column writers (no Arrow: a flat table needs none). The file is
//! written under a temporary name and renamed when complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// Rows per row group.
const ROW_GROUP: usize = 16_384;

/// A column's physical type (every column is optional: a null is a definition level of 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    /// Epoch milliseconds, annotated as a UTC timestamp.
    Millis,
    Float,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
}

enum Column {
    Text(Vec<ByteArray>),
    Int(Vec<i64>),
    Float(Vec<f64>),
}

pub struct ParquetFile {
    writer: SerializedFileWriter<std::fs::File>,
    columns: Vec<(Column, Vec<i16>)>,
    rows: usize,
    total: u64,
    paths: (PathBuf, PathBuf),
}

impl ParquetFile {
    /// A file with `columns` (name, kind) named `message`.
    pub fn create(path: &Path, message: &str, columns: &[(&str, Kind)]) -> anyhow::Result<Self> {
        let fields: Vec<String> = columns
            .iter()
            .map(|(name, kind)| match kind {
                Kind::Text => format!("optional binary {name} (STRING);"),
                Kind::Int => format!("optional int64 {name};"),
                Kind::Millis => format!("optional int64 {name} (TIMESTAMP(MILLIS,true));"),
                Kind::Float => format!("optional double {name};"),
            })
            .collect();
        let schema = parse_message_type(&format!("message {message} {{ {} }}", fields.join(" ")))
            .context("parquet schema")?;
        let tmp = path.with_extension("partial");
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))?;
        Ok(Self {
            writer,
            columns: columns
                .iter()
                .map(|(_, k)| {
                    let c = match k {
                        Kind::Text => Column::Text(Vec::new()),
                        Kind::Int | Kind::Millis => Column::Int(Vec::new()),
                        Kind::Float => Column::Float(Vec::new()),
                    };
                    (c, Vec::new())
                })
                .collect(),
            rows: 0,
            total: 0,
            paths: (tmp, path.to_path_buf()),
        })
    }

    pub fn push(&mut self, row: Vec<Cell>) -> anyhow::Result<()> {
        anyhow::ensure!(row.len() == self.columns.len(), "row width");
        for ((column, levels), cell) in self.columns.iter_mut().zip(row) {
            let present = match (column, cell) {
                (Column::Text(v), Cell::Text(Some(s))) => {
                    v.push(ByteArray::from(s.into_bytes()));
                    true
                }
                (Column::Int(v), Cell::Int(Some(i))) => {
                    v.push(i);
                    true
                }
                (Column::Float(v), Cell::Float(Some(f))) => {
                    v.push(f);
                    true
                }
                (_, Cell::Text(None) | Cell::Int(None) | Cell::Float(None)) => false,
                _ => anyhow::bail!("a cell of the wrong type for its column"),
            };
            levels.push(present as i16);
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for (column, levels) in &mut self.columns {
            let mut w = group.next_column()?.context("a column per schema field")?;
            match column {
                Column::Text(v) => {
                    w.typed::<ByteArrayType>()
                        .write_batch(v, Some(levels), None)?;
                    v.clear();
                }
                Column::Int(v) => {
                    w.typed::<Int64Type>().write_batch(v, Some(levels), None)?;
                    v.clear();
                }
                Column::Float(v) => {
                    w.typed::<DoubleType>().write_batch(v, Some(levels), None)?;
                    v.clear();
                }
            }
            levels.clear();
            w.close()?;
        }
        group.close()?;
        self.total += self.rows as u64;
        self.rows = 0;
        Ok(())
    }

    /// Writes the last row group and the footer, then renames the file into place.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        self.flush()?;
        self.writer.close()?;
        std::fs::rename(&self.paths.0, &self.paths.1)?;
        Ok(self.total)
    }

    /// Removes the partial file (an export that failed leaves nothing).
    pub fn abandon(self) {
        let tmp = self.paths.0.clone();
        drop(self.writer);
        let _ = std::fs::remove_file(tmp);
    }
}
