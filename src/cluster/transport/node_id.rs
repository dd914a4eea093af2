//! The worker's node id, Locust's `f"{socket.gethostname()}_{uuid4().hex}"`, and the checks
//! that make it a valid ZeroMQ identity. The id is both the DEALER identity and `node_id` in
//! every message (SPEC §1.3), and the master groups workers by the part before the first `_`.

use rand::RngCore;

use super::TransportError;

/// ZMTP carries an identity in one length byte.
const MAX_IDENTITY_BYTES: usize = 255;
/// Room left for `_` and the 32 hex digits.
const MAX_HOST_BYTES: usize = MAX_IDENTITY_BYTES - 33;

/// A fresh node id for this host: `{hostname}_{uuid4 hex}`.
pub fn hostname_hex32() -> String {
    let mut uuid = [0u8; 16];
    rand::rng().fill_bytes(&mut uuid);
    node_id_from(&hostname(), uuid)
}

/// The node id for `hostname` and 16 random bytes, which become a version 4 UUID as Python's
/// `uuid4()` makes it. `_` in the host name becomes `-`, so the master's "host" (the id up to
/// the first `_`) is the whole host name; an empty one becomes `localhost`.
pub fn node_id_from(hostname: &str, mut uuid: [u8; 16]) -> String {
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    let mut host: String = hostname
        .chars()
        .map(|c| if c == '_' || c.is_control() { '-' } else { c })
        .collect();
    if host.is_empty() {
        host = "localhost".to_string();
    }
    while host.len() > MAX_HOST_BYTES {
        host.pop();
    }
    format!("{host}_{}", hex::encode(uuid))
}

/// A node id must be a usable ZeroMQ identity: 1 to 255 bytes (it is UTF-8 by type) and not
/// starting with a NUL byte, which libzmq reserves for the identities it makes up.
pub fn validate_node_id(node_id: &str) -> Result<(), TransportError> {
    let problem = if node_id.is_empty() {
        "it is empty"
    } else if node_id.len() > MAX_IDENTITY_BYTES {
        "it is longer than 255 bytes"
    } else if node_id.as_bytes()[0] == 0 {
        "it starts with a NUL byte"
    } else {
        return Ok(());
    };
    Err(TransportError::BadNodeId {
        node_id: node_id.chars().take(64).collect(),
        problem,
    })
}

/// The full host name, as Python's `socket.gethostname()` gives it.
fn hostname() -> String {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            return name.to_string();
        }
    }
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
