//! TEMPORARY STUB (replaced by the real module).
#![allow(missing_docs, unused_variables)]
use crate::dialect::Dialect;
#[derive(Debug, thiserror::Error)]
#[error("key error")]
pub struct KeyError;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Ed25519,
    Rsa,
    EcdsaP256,
}
impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "x")
    }
}
#[derive(Clone, Copy, Debug)]
pub enum NewKeyType {
    Ed25519,
    Rsa4096,
}
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PublicKey;
impl PublicKey {
    pub fn from_key_object(
        obj: &serde_json::Value,
        dialect: Dialect,
    ) -> Result<PublicKey, KeyError> {
        todo!()
    }
    pub fn to_key_object(&self, dialect: Dialect) -> serde_json::Value {
        todo!()
    }
    pub fn key_id(&self, dialect: Dialect) -> String {
        todo!()
    }
    pub fn key_type(&self) -> KeyType {
        todo!()
    }
    pub fn bits(&self) -> usize {
        todo!()
    }
    pub fn spki_der(&self) -> Vec<u8> {
        todo!()
    }
    pub fn fingerprint(&self) -> String {
        todo!()
    }
    pub fn verify(
        &self,
        dialect: Dialect,
        message: &[u8],
        signature: &[u8],
        method: Option<&str>,
    ) -> Result<(), KeyError> {
        todo!()
    }
}
pub struct PrivateKey;
impl PrivateKey {
    pub fn public_key(&self) -> PublicKey {
        todo!()
    }
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        todo!()
    }
    pub fn method(&self, dialect: Dialect) -> &'static str {
        todo!()
    }
}
