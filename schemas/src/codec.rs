//! Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body) through
//! `schema_registry_converter`, against the embedded or an external registry.

use std::collections::HashMap;

use apache_avro::from_value;
use schema_registry_converter::async_impl::easy_avro::{EasyAvroDecoder, EasyAvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};

use crate::dto::*;
use crate::SCHEMAS;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The registry could not be reached or refused the schema: retry later, the record is fine.
    #[error("schema registry: {0}")]
    Registry(String),
    /// The bytes are not a record we understand: dead-letter material.
    #[error("undecodable record: {0}")]
    Decode(String),
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

impl CodecError {
    /// True when retrying cannot help (bad bytes, unknown schema, invalid values).
    pub fn is_poison(&self) -> bool {
        !matches!(self, CodecError::Registry(_))
    }
}

pub struct EventCodec {
    encoder: EasyAvroEncoder,
    decoder: EasyAvroDecoder,
    topic_prefix: String,
    texts: HashMap<&'static str, &'static str>,
}

impl EventCodec {
    pub fn new(registry_url: &str, topic_prefix: &str) -> Self {
        let url = registry_url.trim_end_matches('/').to_string();
        crate::install_tls_provider();
        Self {
            encoder: EasyAvroEncoder::new(SrSettings::new(url.clone())),
            decoder: EasyAvroDecoder::new(SrSettings::new(url)),
            topic_prefix: topic_prefix.to_string(),
            texts: SCHEMAS.iter().map(|s| (s.full_name, s.text)).collect(),
        }
    }

    /// The deployed name of an unprefixed topic.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{}", self.topic_prefix, topic)
    }

    /// Encodes a record for its topic, registering its schema under `<topic>-<record name>` on first use.
    pub async fn encode(&self, record: &EventRecord) -> Result<Vec<u8>, CodecError> {
        let name = record.full_name();
        let schema = SuppliedSchema::new(
            Some(name.to_string()),
            SchemaType::Avro,
            self.texts[name].to_string(),
        );
        let strategy = SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
            self.topic(record.topic()),
            schema,
        );
        let res = match record {
            EventRecord::TitleIngested(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::TitleUpdated(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::AvailabilityArrived(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::AvailabilityUpdated(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::AvailabilityLeft(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::TitlesMerged(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::SearchPerformed(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::SearchesPerformed(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::SyncOperationRecorded(r) => self.encoder.encode_struct(r, &strategy).await,
            EventRecord::AuthAudit(r) => self.encoder.encode_struct(r, &strategy).await,
        };
        res.map_err(|e| CodecError::Registry(e.to_string()))
    }

    /// Decodes a Confluent-framed record into our DTO, by the record name its schema carries.
    pub async fn decode(&self, bytes: &[u8]) -> Result<EventRecord, CodecError> {
        if bytes.len() < 5 || bytes[0] != 0 {
            return Err(CodecError::Decode(
                "missing Confluent magic byte and schema id".into(),
            ));
        }
        let decoded = self.decoder.decode(Some(bytes)).await.map_err(classify)?;
        let name = decoded.name.map(|n| n.fullname(None)).unwrap_or_default();
        let v = &decoded.value;
        let err = |e: apache_avro::Error| CodecError::Decode(format!("{name}: {e}"));
        Ok(match name.as_str() {
            "mediagw.catalog.TitleIngested" => {
                EventRecord::TitleIngested(from_value(v).map_err(err)?)
            }
            "mediagw.catalog.TitleUpdated" => {
                EventRecord::TitleUpdated(from_value(v).map_err(err)?)
            }
            "mediagw.catalog.AvailabilityArrived" => {
                EventRecord::AvailabilityArrived(from_value(v).map_err(err)?)
            }
            "mediagw.catalog.AvailabilityUpdated" => {
                EventRecord::AvailabilityUpdated(from_value(v).map_err(err)?)
            }
            "mediagw.catalog.AvailabilityLeft" => {
                EventRecord::AvailabilityLeft(from_value(v).map_err(err)?)
            }
            "mediagw.catalog.TitlesMerged" => {
                EventRecord::TitlesMerged(from_value(v).map_err(err)?)
            }
            "mediagw.search.SearchPerformed" => {
                EventRecord::SearchPerformed(from_value(v).map_err(err)?)
            }
            "mediagw.search.SearchesPerformed" => {
                EventRecord::SearchesPerformed(from_value(v).map_err(err)?)
            }
            "mediagw.sync.SyncOperationRecorded" => {
                EventRecord::SyncOperationRecorded(from_value(v).map_err(err)?)
            }
            "mediagw.auth.AuthAudit" => EventRecord::AuthAudit(from_value(v).map_err(err)?),
            other => return Err(CodecError::Decode(format!("unknown record type `{other}`"))),
        })
    }
}

/// Transport failures are retryable; everything else about a record is poison.
fn classify(e: SRCError) -> CodecError {
    let text = e.to_string();
    if e.retriable || text.contains("error sending request") || text.contains("connect") {
        CodecError::Registry(text)
    } else {
        CodecError::Decode(text)
    }
}
