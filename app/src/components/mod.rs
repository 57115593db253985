pub mod account_form;
