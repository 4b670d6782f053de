pub mod fixtures;
pub mod native;
