//! Failures of the connector's own infrastructure: KV, the queues, sealed secrets. Never the
//! remote party's doing, so they are carried whole inside each domain error (`Infra`) and
//! read in one place: a queue message that met a store or queue failure is redelivered by
//! the platform; an HTTP request gets `503` (`http::error`).

use crate::crypto::SealError;
use crate::ports::{QueueError, StoreError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum InfraError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A sealed secret cannot be opened (the encryption key changed): trying again will not
    /// open it.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Lets `?` carry a store, queue or seal error into a domain error that has an
/// `Infra(InfraError)` variant.
macro_rules! carries_infra {
    ($error:ty) => {
        impl From<crate::ports::StoreError> for $error {
            fn from(e: crate::ports::StoreError) -> Self {
                Self::Infra(e.into())
            }
        }
        impl From<crate::ports::QueueError> for $error {
            fn from(e: crate::ports::QueueError) -> Self {
                Self::Infra(e.into())
            }
        }
        impl From<crate::crypto::SealError> for $error {
            fn from(e: crate::crypto::SealError) -> Self {
                Self::Infra(e.into())
            }
        }
    };
}
pub(crate) use carries_infra;

impl crate::retry::Failure for InfraError {
    fn disposition(&self) -> crate::retry::Disposition {
        match self {
            InfraError::Seal(_) => crate::retry::Disposition::Permanent,
            _ => crate::retry::Disposition::Transient,
        }
    }
}
