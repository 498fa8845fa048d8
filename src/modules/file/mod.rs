//! Patients' photos and documents: uploads (straight to the file store, or small ones in a
//! GraphQL multipart request), checked and processed in the background, read through
//! short-lived signed links.
pub mod inspect;
pub mod links;
pub mod loaders;
pub mod model;
pub mod repository;
pub mod resolvers;
pub mod service;
pub mod subscription;

pub use loaders::PhotoKey;
pub use model::{FileKind, PatientFile, PhotoSize};
pub use resolvers::PatientFileObject;
pub use service::FileService;
