pub mod account_form;
pub mod action_form;
pub mod job_status;
pub mod preflight;
pub mod status_lookup;
