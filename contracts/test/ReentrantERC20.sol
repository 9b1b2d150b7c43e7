// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only malicious ERC-20: once armed, every transfer out of or into `target`
/// first calls `target` with `payload` (for example the same withdrawal or settle again),
/// records whether that re-entry succeeded and what it returned, and then completes the
/// transfer normally so the outer call can finish.
contract ReentrantERC20 is ERC20 {
    address public target;
    bytes public payload;
    bool public armed;
    uint256 public attempts;
    uint256 public successes;
    bytes public lastRevert;

    constructor() ERC20("reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// Re-enters `target` with `payload` on the next transfers touching it.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (armed && (from == target || to == target)) {
            armed = false;
            attempts += 1;
            (bool ok, bytes memory ret) = target.call(payload);
            if (ok) successes += 1;
            else lastRevert = ret;
            armed = true;
        }
        super._update(from, to, value);
    }
}
