//! Sealed records (ADR 0024): AES-256-GCM over a record's Confluent-framed bytes with the data
//! subject's own key, so destroying the key erases every copy of the record, wherever it went.

use apache_avro::types::Value;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use uuid::Uuid;

pub const FULL_NAME: &str = "mediagw.privacy.Sealed";
pub const SCHEMA: &str = include_str!("../avro/envelope/Sealed.avsc");

/// `mediagw.privacy.Sealed` as it travels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sealed {
    /// The user's pseudonym (also the Kafka key).
    pub subject: String,
    #[serde(with = "apache_avro::serde::bytes")]
    pub nonce: Vec<u8>,
    #[serde(with = "apache_avro::serde::bytes")]
    pub ciphertext: Vec<u8>,
}

fn cipher(key: &[u8; 32]) -> Result<LessSafeKey, String> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| "bad key".to_string())
}

/// Encrypts `plain` for `subject` (the pseudonym is authenticated, so a record cannot be moved to
/// another subject's key).
pub fn seal(subject: Uuid, key: &[u8; 32], plain: &[u8]) -> Result<Sealed, String> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| "no system randomness".to_string())?;
    let subject = subject.to_string();
    let mut data = plain.to_vec();
    cipher(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(subject.as_bytes()),
            &mut data,
        )
        .map_err(|_| "encryption failed".to_string())?;
    Ok(Sealed {
        subject,
        nonce: nonce.to_vec(),
        ciphertext: data,
    })
}

impl Sealed {
    /// The pseudonym as a UUID (`None` when the producer wrote something else).
    pub fn subject_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.subject).ok()
    }

    /// The plaintext, if `key` is the one this record was sealed with and nothing was altered.
    pub fn open(&self, key: &[u8; 32]) -> Result<Vec<u8>, String> {
        let nonce: [u8; NONCE_LEN] = self
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| format!("nonce must be {NONCE_LEN} bytes"))?;
        let mut data = self.ciphertext.clone();
        let plain = cipher(key)?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.subject.as_bytes()),
                &mut data,
            )
            .map_err(|_| "authentication failed (wrong key or altered record)".to_string())?;
        Ok(plain.to_vec())
    }

    /// From the decoded Avro value of a `Sealed` record.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let Value::Record(fields) = value else {
            return Err("Sealed: not a record".into());
        };
        let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let bytes = |name: &str| match get(name) {
            Some(Value::Bytes(b)) => Ok(b.clone()),
            _ => Err(format!("Sealed: `{name}` missing or not bytes")),
        };
        let subject = match get("subject") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err("Sealed: `subject` missing or not a string".into()),
        };
        Ok(Self {
            subject,
            nonce: bytes("nonce")?,
            ciphertext: bytes("ciphertext")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_subjects_key_opens_what_it_sealed() {
        let subject = Uuid::new_v4();
        let (key, other) = ([7u8; 32], [8u8; 32]);
        let sealed = seal(subject, &key, b"\0\0\0\0\x01payload").unwrap();
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"payload"));
        assert_eq!(sealed.open(&key).unwrap(), b"\0\0\0\0\x01payload");
        assert!(sealed.open(&other).is_err(), "another key opened it");

        let mut moved = sealed.clone();
        moved.subject = Uuid::new_v4().to_string();
        assert!(
            moved.open(&key).is_err(),
            "the subject is not authenticated"
        );
        let mut altered = sealed;
        altered.ciphertext[0] ^= 1;
        assert!(altered.open(&key).is_err(), "an altered record opened");
    }

    #[test]
    fn the_schema_is_valid_avro_and_round_trips() {
        let schema = apache_avro::Schema::parse_str(SCHEMA).unwrap();
        let sealed = seal(Uuid::new_v4(), &[1u8; 32], b"x").unwrap();
        // Through the schema-directed serializer the registry encoder uses.
        let mut writer = apache_avro::Writer::new(&schema, Vec::new()).unwrap();
        writer.append_ser(&sealed).unwrap();
        let bytes = writer.into_inner().unwrap();
        let value = apache_avro::Reader::new(&bytes[..])
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(Sealed::from_value(&value).unwrap(), sealed);
    }
}
