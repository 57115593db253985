pub mod account_form;
pub mod job_status;
pub mod status_lookup;
