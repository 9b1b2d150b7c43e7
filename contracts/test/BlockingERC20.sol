// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only ERC-20 with an open mint that can block recipients: every transfer (or
/// mint) to a blocked address reverts with {Blocked} while it stays blocked, like a token
/// with a deny list. It lets the tests make a payout fail and exercise deferred payouts.
contract BlockingERC20 is ERC20 {
    mapping(address => bool) public blocked;

    /// A transfer to `to`, which is blocked.
    error Blocked(address to);

    constructor() ERC20("blocking", "BLK") {}

    /// Creates `amount` for `to` (tests only: anyone may mint).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// Blocks or unblocks transfers to `who` (tests only: anyone may call it).
    function setBlocked(address who, bool blocked_) external {
        blocked[who] = blocked_;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[to]) revert Blocked(to);
        super._update(from, to, value);
    }
}
