//! Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body) through
//! `schema_registry_converter`, against the embedded or an external registry.

use std::collections::HashMap;
use std::marker::PhantomData;

use schema_registry_converter::async_impl::easy_avro::{EasyAvroDecoder, EasyAvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};

use uuid::Uuid;

use crate::mapping::MappingError;
use crate::sealed;
use crate::set::EventSet;
use crate::EventRecord;

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
    /// A sealed record whose key could not open it (tampered bytes, or a key that is not its own).
    #[error("sealed record does not open: {0}")]
    Seal(String),
}

impl CodecError {
    /// True when retrying cannot help (bad bytes, unknown schema, invalid values).
    pub fn is_poison(&self) -> bool {
        !matches!(self, CodecError::Registry(_))
    }
}

/// What a record on the wire turned out to be.
#[derive(Debug)]
pub enum Decoded<R> {
    Record(R),
    /// A record about a user, still sealed with their key.
    Sealed(sealed::Sealed),
}

/// Encodes and decodes the records of one event set (the product's [`EventRecord`] by default).
pub struct EventCodec<R = EventRecord> {
    encoder: EasyAvroEncoder,
    decoder: EasyAvroDecoder,
    topic_prefix: String,
    texts: HashMap<&'static str, &'static str>,
    events: PhantomData<fn() -> R>,
}

impl EventCodec {
    pub fn new(registry_url: &str, topic_prefix: &str) -> Self {
        Self::for_events(registry_url, topic_prefix)
    }
}

impl<R: EventSet> EventCodec<R> {
    pub fn for_events(registry_url: &str, topic_prefix: &str) -> Self {
        let url = registry_url.trim_end_matches('/').to_string();
        crate::install_tls_provider();
        Self {
            encoder: EasyAvroEncoder::new(SrSettings::new(url.clone())),
            decoder: EasyAvroDecoder::new(SrSettings::new(url)),
            topic_prefix: topic_prefix.to_string(),
            texts: R::SCHEMAS.iter().map(|s| (s.full_name, s.text)).collect(),
            events: PhantomData,
        }
    }

    /// The deployed name of an unprefixed topic.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{}", self.topic_prefix, topic)
    }

    /// Encodes a record for its topic, registering its schema under `<topic>-<record name>` on first use.
    pub async fn encode(&self, record: &R) -> Result<Vec<u8>, CodecError> {
        let name = record.full_name();
        let text = self.texts.get(name).ok_or_else(|| {
            CodecError::Decode(format!("`{name}` has no schema in its event set"))
        })?;
        let schema =
            SuppliedSchema::new(Some(name.to_string()), SchemaType::Avro, text.to_string());
        let strategy = SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
            self.topic(record.topic()),
            schema,
        );
        self.encoder
            .encode_struct(record, &strategy)
            .await
            .map_err(|e| CodecError::Registry(e.to_string()))
    }

    /// Seals an encoded record about a user (ADR 0024): the Confluent-framed bytes are encrypted
    /// with the user's key and wrapped in a `mediagw.privacy.Sealed` record, itself Confluent-framed
    /// with its schema registered under `<topic>-mediagw.privacy.Sealed`.
    pub async fn seal(
        &self,
        topic: &str,
        subject: Uuid,
        key: &[u8; 32],
        framed: &[u8],
    ) -> Result<Vec<u8>, CodecError> {
        let sealed = sealed::seal(subject, key, framed).map_err(CodecError::Seal)?;
        let schema = SuppliedSchema::new(
            Some(sealed::FULL_NAME.to_string()),
            SchemaType::Avro,
            sealed::SCHEMA.to_string(),
        );
        let strategy =
            SubjectNameStrategy::TopicRecordNameStrategyWithSchema(self.topic(topic), schema);
        self.encoder
            .encode_struct(&sealed, &strategy)
            .await
            .map_err(|e| CodecError::Registry(e.to_string()))
    }

    /// Decodes a record that may be sealed: plain records come back decoded, sealed ones as they
    /// are, for the caller to fetch their key and [`open`](Self::open).
    pub async fn decode_any(&self, bytes: &[u8]) -> Result<Decoded<R>, CodecError> {
        let (name, value) = self.decode_value(bytes).await?;
        if name == sealed::FULL_NAME {
            return sealed::Sealed::from_value(&value)
                .map(Decoded::Sealed)
                .map_err(CodecError::Decode);
        }
        self.record(&name, &value).map(Decoded::Record)
    }

    /// Opens a sealed record with its subject's key and decodes what it holds.
    pub async fn open(&self, sealed: &sealed::Sealed, key: &[u8; 32]) -> Result<R, CodecError> {
        let framed = sealed.open(key).map_err(CodecError::Seal)?;
        let (name, value) = self.decode_value(&framed).await?;
        if name == sealed::FULL_NAME {
            return Err(CodecError::Decode(
                "a sealed record inside a sealed record".into(),
            ));
        }
        self.record(&name, &value)
    }

    /// Decodes a Confluent-framed record into our DTO, by the record name its schema carries.
    /// Sealed records are refused here: they need [`decode_any`](Self::decode_any) and a key.
    pub async fn decode(&self, bytes: &[u8]) -> Result<R, CodecError> {
        match self.decode_any(bytes).await? {
            Decoded::Record(r) => Ok(r),
            Decoded::Sealed(s) => Err(CodecError::Decode(format!(
                "record sealed for subject {}: open it with its key",
                s.subject
            ))),
        }
    }

    async fn decode_value(
        &self,
        bytes: &[u8],
    ) -> Result<(String, apache_avro::types::Value), CodecError> {
        if bytes.len() < 5 || bytes[0] != 0 {
            return Err(CodecError::Decode(
                "missing Confluent magic byte and schema id".into(),
            ));
        }
        let decoded = self.decoder.decode(Some(bytes)).await.map_err(classify)?;
        let name = decoded.name.map(|n| n.fullname(None)).unwrap_or_default();
        Ok((name, decoded.value))
    }

    fn record(&self, name: &str, value: &apache_avro::types::Value) -> Result<R, CodecError> {
        match R::from_avro(name, value) {
            Some(Ok(record)) => Ok(record),
            Some(Err(e)) => Err(CodecError::Decode(format!("{name}: {e}"))),
            None => Err(CodecError::Decode(format!("unknown record type `{name}`"))),
        }
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
