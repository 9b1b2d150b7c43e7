// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only ERC-20 with an open mint: the asset of the conformance suite on anvil.
contract MockERC20 is ERC20 {
    constructor() ERC20("paychan test token", "PCT") {}

    /// Creates `amount` for `to` (tests only: anyone may mint).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
