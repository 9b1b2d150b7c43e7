// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only ERC-20 with an open mint whose `transfer` moves the funds and then
/// returns `false` (`transferFrom` behaves). A contract that trusted the return value would
/// both pay a payout and credit it as undelivered: the recipient would be paid twice.
contract FalseReturningERC20 is ERC20 {
    constructor() ERC20("false-returning", "FRT") {}

    /// Creates `amount` for `to` (tests only: anyone may mint).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// Moves `amount` to `to`, then says it did not.
    function transfer(address to, uint256 amount) public override returns (bool) {
        _transfer(msg.sender, to, amount);
        return false;
    }
}
