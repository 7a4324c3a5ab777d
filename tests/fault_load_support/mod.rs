//! The fault-under-load trials' parts: the clients and their answers ([`load`]), and what a
//! run must leave behind ([`verdict`]).

pub mod load;
pub mod verdict;
