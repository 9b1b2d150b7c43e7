//! Dialing a peer: open the carrier, run the handshake as initiator, check the address.

use tokio::time::timeout;

use crate::{
    addr::PeerAddr,
    config::NetConfig,
    connection::Connection,
    error::{NetError, TimeoutKind},
    handshake,
    identity::Identity,
    transport,
};

/// Connects to `peer` with the default [`NetConfig`]; see [`connect_with`].
pub async fn connect(peer: &PeerAddr, identity: &Identity) -> Result<Connection, NetError> {
    connect_with(peer, identity, &NetConfig::default()).await
}

/// Connects to `peer` and returns a connection once the peer proved it holds
/// [`PeerAddr::address`].
///
/// Fails with [`NetError::WrongPeer`] if the peer proves another address (the handshake is
/// abandoned before this node reveals its own identity), with [`NetError::BadBinding`] if
/// its proof is forged, and with [`TimeoutKind::Handshake`] if dialing plus the handshake
/// take longer than [`NetConfig::handshake_timeout`].
pub async fn connect_with(
    peer: &PeerAddr,
    identity: &Identity,
    config: &NetConfig,
) -> Result<Connection, NetError> {
    let attempt = async {
        let (mut reader, mut writer, kind) =
            transport::dial(peer.endpoint(), peer.address()).await?;
        let session =
            handshake::initiate(&mut reader, &mut writer, identity, peer.address()).await?;
        Ok(Connection::new(reader, writer, session, kind, config))
    };
    timeout(config.handshake_timeout, attempt)
        .await
        .map_err(|_| NetError::Timeout(TimeoutKind::Handshake))?
}
