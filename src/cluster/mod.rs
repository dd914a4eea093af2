//! Distributed mode: what a master and its workers share. The dispatcher decides which worker
//! runs which users; the protocol is Locust's wire format, as a pure codec (no sockets).

pub mod dispatch;
