pub mod status;
pub mod wizard;
