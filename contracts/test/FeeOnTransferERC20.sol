// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only ERC-20 that burns 1% (at least 1 unit) of every transfer: the
/// adjudicator must refuse it rather than count more than it received.
contract FeeOnTransferERC20 is ERC20 {
    constructor() ERC20("fee on transfer", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0) || value == 0) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = value / 100;
        if (fee == 0) fee = 1;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
