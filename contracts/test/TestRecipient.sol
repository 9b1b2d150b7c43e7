// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice Test-only contract party of a channel (a contract wallet): it receives ETH, refuses
/// it, or answers every payment with a large return (a return-data bomb), and it can claim its
/// deferred payouts to another address.
contract TestRecipient {
    /// 0: accept ETH, 1: refuse it, 2: accept it and return `bombSize` bytes.
    uint8 public mode;
    uint256 public bombSize;

    /// Sets how it answers payments (tests only: anyone may call it).
    function setMode(uint8 mode_, uint256 bombSize_) external {
        mode = mode_;
        bombSize = bombSize_;
    }

    /// Claims this contract's deferred payouts of `token` from `adjudicator`, paid to `to`.
    function claimTo(address adjudicator, address token, address to) external {
        (bool ok, bytes memory reason) =
            adjudicator.call(abi.encodeWithSignature("claim(address,address)", token, to));
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
    }

    receive() external payable {
        uint8 m = mode;
        if (m == 1) revert("refusing ETH");
        if (m == 2) {
            uint256 size = bombSize;
            assembly ("memory-safe") {
                return(0, size)
            }
        }
    }
}
