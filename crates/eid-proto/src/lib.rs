//! Generated code for the eID service's protobuf contracts under `proto/`.
//!
//! Codegen runs at build time with protox (a pure-Rust protobuf compiler, so no system
//! `protoc` is needed) and tonic-prost-build. The contracts' field comments are the
//! documentation; they are carried into the generated items.
//!
//! This crate holds only generated types, so that the codegen's build dependencies are
//! compiled once here rather than in every crate that speaks the contract.

/// `eid.registry.v1`: the national population register (`proto/eid/registry/v1/registry.proto`).
pub mod registry {
    /// Version 1 of the register contract.
    pub mod v1 {
        #![allow(
            missing_docs,
            clippy::doc_lazy_continuation,
            clippy::doc_overindented_list_items
        )]
        tonic::include_proto!("eid.registry.v1");
    }
}

/// `eid.v1`: the eID service's own back-end API (`proto/eid/v1/identity.proto`).
pub mod v1 {
    #![allow(
        missing_docs,
        clippy::doc_lazy_continuation,
        clippy::doc_overindented_list_items
    )]
    tonic::include_proto!("eid.v1");
}
