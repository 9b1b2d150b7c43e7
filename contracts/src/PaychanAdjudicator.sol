// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title paychan adjudicator: every two-party payment channel of one chain, ETH and ERC-20.
/// @notice Implements the ledger rules of paychan (docs/PROTOCOL.md section 6, the Rust
/// `paychan_core::adjudicator::Adjudicator`) exactly: open, deposit, co-signed withdrawal with
/// floors, cooperative close, unilateral close with a challenge period during which anyone may
/// submit vouchers, settle. Signatures are EIP-712 under ("paychan", "1", chainid, this).
/// Beyond the shared rules, a deployment refuses challenge periods shorter than its
/// {minChallengePeriod} (at least {CHALLENGE_PERIOD_FLOOR}): a party must have time to see a
/// close under its confirmation depth and answer it (docs/ETHEREUM.md, "Challenge periods").
/// @dev Amounts are uint256 in the ABI but bounded to 2^128 - 1 like the Rust ledger: every
/// deposit total, counter and sum of deposits fits in 128 bits, so no 256-bit sum overflows.
/// Funds are conserved per channel: withdrawn + paid out <= deposited, whatever the parties sign.
contract PaychanAdjudicator is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// The fixed parameters of a channel; its EIP-712 digest is the channel id.
    struct Channel {
        address partyA;
        address partyB;
        address token;
        uint64 challengePeriod;
        bytes32 nonce;
    }

    /// A payment: the payer's promise that it has paid `cumulative` in total.
    struct Voucher {
        bytes32 channelId;
        address payer;
        uint256 cumulative;
        uint64 sequence;
        bytes32 memo;
    }

    /// A withdrawal while open, signed by both parties.
    struct Withdrawal {
        bytes32 channelId;
        address party;
        uint256 totalWithdrawn;
        uint256 paidByA;
        uint256 paidByB;
        uint64 expiry;
    }

    /// A cooperative settlement, signed by both parties.
    struct Settlement {
        bytes32 channelId;
        uint256 paidByA;
        uint256 paidByB;
    }

    /// Where a channel is. `None` ids were never used; `Settled` ids are never reused.
    enum Status {
        None,
        Open,
        Closing,
        Settled
    }

    /// The stored record of a channel (8 slots; the last one holds the counted vouchers while
    /// closing and the payouts once settled).
    struct Record {
        address partyA;
        Status status;
        uint64 deadline;
        address partyB;
        address token;
        uint64 challengePeriod;
        bytes32 nonce;
        uint128 depositA;
        uint128 depositB;
        uint128 withdrawnA;
        uint128 withdrawnB;
        uint128 floorA;
        uint128 floorB;
        uint128 lastA;
        uint128 lastB;
    }

    /// The record as returned by {channel}: `countedA/B` while closing, `payoutA/B` once settled
    /// are both in `lastA/B`.
    struct ChannelView {
        Channel params;
        Status status;
        uint64 deadline;
        uint256 depositA;
        uint256 depositB;
        uint256 withdrawnA;
        uint256 withdrawnB;
        uint256 floorA;
        uint256 floorB;
        uint256 lastA;
        uint256 lastB;
    }

    bytes32 private constant CHANNEL_TYPEHASH =
        keccak256("Channel(address partyA,address partyB,address token,uint64 challengePeriod,bytes32 nonce)");
    bytes32 private constant VOUCHER_TYPEHASH =
        keccak256("Voucher(bytes32 channelId,address payer,uint256 cumulative,uint64 sequence,bytes32 memo)");
    bytes32 private constant WITHDRAWAL_TYPEHASH = keccak256(
        "Withdrawal(bytes32 channelId,address party,uint256 totalWithdrawn,uint256 paidByA,uint256 paidByB,uint64 expiry)"
    );
    bytes32 private constant SETTLEMENT_TYPEHASH =
        keccak256("Settlement(bytes32 channelId,uint256 paidByA,uint256 paidByB)");

    /// Gas forwarded with a native payout: enough for a smart-contract wallet, not enough for a
    /// recipient to make settling impossible by burning gas.
    uint256 private constant NATIVE_PAYOUT_GAS = 100_000;

    uint8 private constant PARTY_A = 0;
    uint8 private constant PARTY_B = 1;

    /// The lowest {minChallengePeriod} a deployment may choose: one hour, several times what a
    /// watcher needs on mainnet to see a close under 12 confirmations and get an answer in.
    uint64 public constant CHALLENGE_PERIOD_FLOOR = 1 hours;

    /// The shortest challenge period this deployment opens channels with (set at deployment).
    uint64 public immutable minChallengePeriod;

    mapping(bytes32 => Record) private _channels;

    /// Payouts that could not be transferred (a recipient that refuses ETH, a token that
    /// blocks the recipient): token => owner => amount, claimable with {claim}.
    mapping(address => mapping(address => uint256)) public unclaimed;

    event Opened(
        bytes32 indexed channelId,
        address partyA,
        address partyB,
        address token,
        uint64 challengePeriod,
        bytes32 nonce,
        uint256 deposit
    );
    event Deposited(bytes32 indexed channelId, uint8 party, uint256 amount, uint256 total);
    event Withdrawn(
        bytes32 indexed channelId,
        uint8 party,
        uint256 amount,
        uint256 totalWithdrawn,
        uint256 paidByA,
        uint256 paidByB
    );
    event CloseStarted(bytes32 indexed channelId, uint8 by, uint64 deadline);
    event VoucherSubmitted(bytes32 indexed channelId, uint8 payer, uint256 cumulative, uint256 counted);
    event Settled(bytes32 indexed channelId, uint256 payoutA, uint256 payoutB);
    /// A payout of channel `channelId` that `to` could not receive now (or the part of it the
    /// token did not move); it stays claimable by `to` with {claim}.
    event PayoutDeferred(bytes32 indexed channelId, address indexed token, address indexed to, uint256 amount);
    /// `owner` claimed its deferred payouts of `token`, paid to `to`.
    event Claimed(address indexed token, address indexed owner, address to, uint256 amount);

    error UnknownChannel(bytes32 channelId);
    error ChannelExists(bytes32 channelId);
    /// 1: same parties, 2: a zero party, 3: zero challenge period, 4: bad party index,
    /// 5: claim to the zero address.
    error InvalidParams(uint8 reason);
    /// The challenge period is shorter than the deployment's minimum (or, at deployment, the
    /// minimum is below the floor).
    error ChallengePeriodTooShort(uint64 challengePeriod, uint64 minimum);
    error NotOpen();
    error NotClosing();
    error NotAParty(address account);
    /// 0: party A (or the payer), 1: party B.
    error BadSignature(uint8 who);
    error WrongChannel();
    error Expired(uint64 expiry, uint256 timestamp);
    error NotIncreasing();
    error OverBalance();
    error DeadlineNotReached(uint64 deadline, uint256 timestamp);
    error DeadlinePassed(uint64 deadline, uint256 timestamp);
    error ZeroAmount();
    error Overflow();
    /// msg.value is not the amount (native channel) or not zero (token channel).
    error WrongValue(uint256 value, uint256 amount);
    /// The token moved another amount than asked: fee-on-transfer and similar tokens are refused.
    error UnsupportedToken(address token, uint256 received, uint256 amount);
    error NothingToClaim();
    error NativeTransferFailed(address to);
    /// A claim's token transfer did not move the amount claimed (the claim stays).
    error TokenTransferFailed(address token, address to, uint256 moved, uint256 amount);

    /// `minChallengePeriod_`: the shortest challenge period channels may have, at least
    /// {CHALLENGE_PERIOD_FLOOR}.
    constructor(uint64 minChallengePeriod_) EIP712("paychan", "1") {
        if (minChallengePeriod_ < CHALLENGE_PERIOD_FLOOR) {
            revert ChallengePeriodTooShort(minChallengePeriod_, CHALLENGE_PERIOD_FLOOR);
        }
        minChallengePeriod = minChallengePeriod_;
    }

    // ------------------------------------------------------------------ views

    /// The EIP-712 domain separator signatures are checked under.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// The id of a channel: the EIP-712 digest of its parameters under this contract's domain.
    function channelId(Channel calldata c) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(CHANNEL_TYPEHASH, c.partyA, c.partyB, c.token, c.challengePeriod, c.nonce))
        );
    }

    /// The record of a channel (status `None`: never opened).
    function channel(bytes32 id) external view returns (ChannelView memory v) {
        Record storage r = _channels[id];
        v.params = Channel(r.partyA, r.partyB, r.token, r.challengePeriod, r.nonce);
        v.status = r.status;
        v.deadline = r.deadline;
        v.depositA = r.depositA;
        v.depositB = r.depositB;
        v.withdrawnA = r.withdrawnA;
        v.withdrawnB = r.withdrawnB;
        v.floorA = r.floorA;
        v.floorB = r.floorB;
        v.lastA = r.lastA;
        v.lastB = r.lastB;
    }

    // ------------------------------------------------------------------ funding

    /// Opens a channel with `amount` deposited for A, paid by the caller (msg.value for ETH,
    /// an allowance for tokens). Refused if the id was ever used, or if the challenge period
    /// is shorter than {minChallengePeriod}. Anyone may open a channel for A and B, so a third
    /// party can open the same parameters first (with any amount): the opener's transaction
    /// is then refused (`ChannelExists`), nothing moved, and it deposits instead (the node
    /// does, docs/ETHEREUM.md).
    function open(Channel calldata c, uint256 amount) external payable nonReentrant returns (bytes32 id) {
        if (c.partyA == c.partyB) revert InvalidParams(1);
        if (c.partyA == address(0) || c.partyB == address(0)) revert InvalidParams(2);
        if (c.challengePeriod == 0) revert InvalidParams(3);
        if (c.challengePeriod < minChallengePeriod) revert ChallengePeriodTooShort(c.challengePeriod, minChallengePeriod);
        id = channelId(c);
        Record storage r = _channels[id];
        if (r.status != Status.None) revert ChannelExists(id);
        if (amount > type(uint128).max) revert Overflow();
        r.partyA = c.partyA;
        r.status = Status.Open;
        r.partyB = c.partyB;
        r.token = c.token;
        r.challengePeriod = c.challengePeriod;
        r.nonce = c.nonce;
        // forge-lint: the cast is checked above.
        r.depositA = uint128(amount);
        emit Opened(id, c.partyA, c.partyB, c.token, c.challengePeriod, c.nonce, amount);
        _pull(c.token, amount);
    }

    /// Adds `amount` to `party`'s deposit (0: A, 1: B), paid by the caller. Refused unless open.
    function deposit(bytes32 id, uint8 party, uint256 amount) external payable nonReentrant {
        Record storage r = _record(id);
        if (r.status != Status.Open) revert NotOpen();
        if (amount == 0) revert ZeroAmount();
        if (party > PARTY_B) revert InvalidParams(4);
        uint256 mine = party == PARTY_A ? r.depositA : r.depositB;
        uint256 other = party == PARTY_A ? r.depositB : r.depositA;
        uint256 total = mine + amount;
        // Both the party's total and the sum of both deposits stay within 128 bits.
        if (total > type(uint128).max || other + total > type(uint128).max) revert Overflow();
        if (party == PARTY_A) r.depositA = uint128(total);
        else r.depositB = uint128(total);
        emit Deposited(id, party, amount, total);
        _pull(r.token, amount);
    }

    // ------------------------------------------------------------------ withdrawal

    /// Executes a co-signed withdrawal: pays the increase of the party's total withdrawn and
    /// raises both floors. Refused if expired, not increasing, or if the party (or the channel)
    /// would go below zero with max(floors, certificate counters).
    function withdraw(Withdrawal calldata w, bytes calldata sigA, bytes calldata sigB) external nonReentrant {
        Record storage r = _record(w.channelId);
        if (r.status != Status.Open) revert NotOpen();
        uint8 party = _roleOf(r, w.party);
        if (block.timestamp >= w.expiry) revert Expired(w.expiry, block.timestamp);
        if (w.totalWithdrawn > type(uint128).max || w.paidByA > type(uint128).max || w.paidByB > type(uint128).max) {
            revert Overflow();
        }
        bytes32 structHash = keccak256(
            abi.encode(WITHDRAWAL_TYPEHASH, w.channelId, w.party, w.totalWithdrawn, w.paidByA, w.paidByB, w.expiry)
        );
        _checkCoSigned(r, structHash, sigA, sigB);
        uint256 previous = party == PARTY_A ? r.withdrawnA : r.withdrawnB;
        if (w.totalWithdrawn <= previous) revert NotIncreasing();
        uint256 floorA = _max(r.floorA, w.paidByA);
        uint256 floorB = _max(r.floorB, w.paidByB);
        (uint256 dep, uint256 myFloor, uint256 peerFloor, uint256 peerWithdrawn) = party == PARTY_A
            ? (uint256(r.depositA), floorA, floorB, uint256(r.withdrawnB))
            : (uint256(r.depositB), floorB, floorA, uint256(r.withdrawnA));
        // The party stays at or above zero: dep - total - myPaid + peerPaid >= 0.
        if (w.totalWithdrawn + myFloor > dep + peerFloor) revert OverBalance();
        // And the channel never pays out more than was put in, whatever the counters say.
        if (w.totalWithdrawn + peerWithdrawn > uint256(r.depositA) + uint256(r.depositB)) revert OverBalance();
        uint256 amount = w.totalWithdrawn - previous;
        if (party == PARTY_A) r.withdrawnA = uint128(w.totalWithdrawn);
        else r.withdrawnB = uint128(w.totalWithdrawn);
        r.floorA = uint128(floorA);
        r.floorB = uint128(floorB);
        emit Withdrawn(w.channelId, party, amount, w.totalWithdrawn, floorA, floorB);
        _push(w.channelId, r.token, w.party, amount);
    }

    // ------------------------------------------------------------------ closing

    /// Pays out at once on a co-signed settlement (open or closing). Counters below the floors
    /// count as the floors.
    function closeCooperative(Settlement calldata s, bytes calldata sigA, bytes calldata sigB) external nonReentrant {
        Record storage r = _record(s.channelId);
        if (r.status == Status.Settled) revert NotOpen();
        if (s.paidByA > type(uint128).max || s.paidByB > type(uint128).max) revert Overflow();
        bytes32 structHash = keccak256(abi.encode(SETTLEMENT_TYPEHASH, s.channelId, s.paidByA, s.paidByB));
        _checkCoSigned(r, structHash, sigA, sigB);
        _payOut(s.channelId, r, _max(r.floorA, s.paidByA), _max(r.floorB, s.paidByB));
    }

    /// Starts a unilateral close (the caller must be a party): deadline = now + challengePeriod.
    function startClose(bytes32 id) external nonReentrant {
        Record storage r = _startClose(id);
        r.lastA = r.floorA;
        r.lastB = r.floorB;
    }

    /// Starts a unilateral close presenting the peer's latest voucher, counted at once.
    function startCloseWithVoucher(bytes32 id, Voucher calldata v, bytes calldata sig) external nonReentrant {
        Record storage r = _record(id);
        // The same checks, in the same order, as the Rust adjudicator: party, open, voucher.
        _roleOf(r, msg.sender);
        if (r.status != Status.Open) revert NotOpen();
        uint8 payer = _checkVoucher(id, r, v, sig);
        _startClose(id);
        r.lastA = r.floorA;
        r.lastB = r.floorB;
        _count(id, r, payer, v.cumulative);
    }

    /// Counts a voucher during the challenge period (anyone may submit): the ledger keeps the
    /// highest cumulative per payer.
    function submitVoucher(Voucher calldata v, bytes calldata sig) external nonReentrant {
        bytes32 id = v.channelId;
        Record storage r = _record(id);
        if (r.status != Status.Closing) revert NotClosing();
        if (block.timestamp >= r.deadline) revert DeadlinePassed(r.deadline, block.timestamp);
        uint8 payer = _checkVoucher(id, r, v, sig);
        _count(id, r, payer, v.cumulative);
    }

    /// Settles a closing channel once its deadline has passed (anyone may call).
    function settle(bytes32 id) external nonReentrant {
        Record storage r = _record(id);
        if (r.status != Status.Closing) revert NotClosing();
        if (block.timestamp < r.deadline) revert DeadlineNotReached(r.deadline, block.timestamp);
        _payOut(id, r, r.lastA, r.lastB);
    }

    /// Pays what could not be paid out to the caller before (see {PayoutDeferred}) to `to`:
    /// the caller itself, or another address when the caller cannot receive (a contract
    /// wallet that refuses ETH, an address the token blocks). All of it or nothing: if the
    /// transfer fails, the claim stays.
    function claim(address token, address to) external nonReentrant {
        if (to == address(0)) revert InvalidParams(5);
        uint256 amount = unclaimed[token][msg.sender];
        if (amount == 0) revert NothingToClaim();
        unclaimed[token][msg.sender] = 0;
        emit Claimed(token, msg.sender, to, amount);
        if (token == address(0)) {
            // All remaining gas (the claimant chose the recipient), no return data copied.
            if (!_call(to, amount, gasleft(), "")) revert NativeTransferFailed(to);
        } else {
            uint256 moved = _transferOut(token, to, amount);
            if (moved != amount) revert TokenTransferFailed(token, to, moved, amount);
        }
    }

    // ------------------------------------------------------------------ internals

    function _record(bytes32 id) private view returns (Record storage r) {
        r = _channels[id];
        if (r.status == Status.None) revert UnknownChannel(id);
    }

    function _roleOf(Record storage r, address who) private view returns (uint8) {
        if (who == r.partyA) return PARTY_A;
        if (who == r.partyB) return PARTY_B;
        revert NotAParty(who);
    }

    function _startClose(bytes32 id) private returns (Record storage r) {
        r = _record(id);
        uint8 by = _roleOf(r, msg.sender);
        if (r.status != Status.Open) revert NotOpen();
        uint256 deadline = block.timestamp + r.challengePeriod;
        if (deadline > type(uint64).max) revert Overflow();
        r.status = Status.Closing;
        r.deadline = uint64(deadline);
        emit CloseStarted(id, by, uint64(deadline));
    }

    function _checkVoucher(bytes32 id, Record storage r, Voucher calldata v, bytes calldata sig)
        private
        view
        returns (uint8 payer)
    {
        if (v.channelId != id) revert WrongChannel();
        payer = _roleOf(r, v.payer);
        if (v.cumulative > type(uint128).max) revert Overflow();
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(VOUCHER_TYPEHASH, v.channelId, v.payer, v.cumulative, v.sequence, v.memo))
        );
        if (!_signedBy(digest, sig, v.payer)) revert BadSignature(PARTY_A);
    }

    function _count(bytes32 id, Record storage r, uint8 payer, uint256 cumulative) private {
        uint256 counted;
        if (payer == PARTY_A) {
            counted = _max(r.lastA, cumulative);
            r.lastA = uint128(counted);
        } else {
            counted = _max(r.lastB, cumulative);
            r.lastB = uint128(counted);
        }
        emit VoucherSubmitted(id, payer, cumulative, counted);
    }

    function _checkCoSigned(Record storage r, bytes32 structHash, bytes calldata sigA, bytes calldata sigB)
        private
        view
    {
        bytes32 digest = _hashTypedDataV4(structHash);
        if (!_signedBy(digest, sigA, r.partyA)) revert BadSignature(PARTY_A);
        if (!_signedBy(digest, sigB, r.partyB)) revert BadSignature(PARTY_B);
    }

    /// Whether `sig` (65 bytes r || s || v, v in {27, 28}, s in the lower half of the curve
    /// order) is `signer`'s over `digest`. OpenZeppelin's ECDSA refuses every other form, so a
    /// signature has exactly one accepted encoding.
    function _signedBy(bytes32 digest, bytes calldata sig, address signer) private pure returns (bool) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, sig);
        return err == ECDSA.RecoverError.NoError && recovered == signer;
    }

    /// `total = dA + dB - wA - wB`; `payoutA = clamp(dA - wA - paidA + paidB, 0, total)`;
    /// `payoutB = total - payoutA`. All inputs are below 2^128, so no sum overflows; `withdraw`
    /// keeps `wA + wB <= dA + dB`.
    function _payOut(bytes32 id, Record storage r, uint256 paidA, uint256 paidB) private {
        uint256 dA = r.depositA;
        uint256 total = dA + uint256(r.depositB) - uint256(r.withdrawnA) - uint256(r.withdrawnB);
        uint256 plus = dA + paidB;
        uint256 minus = uint256(r.withdrawnA) + paidA;
        uint256 payoutA = plus > minus ? _min(plus - minus, total) : 0;
        uint256 payoutB = total - payoutA;
        r.status = Status.Settled;
        r.lastA = uint128(payoutA);
        r.lastB = uint128(payoutB);
        emit Settled(id, payoutA, payoutB);
        _push(id, r.token, r.partyA, payoutA);
        _push(id, r.token, r.partyB, payoutB);
    }

    /// Takes `amount` from the caller into the contract. A token must move exactly `amount`
    /// (balance-delta check): fee-on-transfer tokens are refused rather than under-counted.
    function _pull(address token, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert WrongValue(msg.value, amount);
            return;
        }
        if (msg.value != 0) revert WrongValue(msg.value, 0);
        if (amount == 0) return;
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 afterwards = IERC20(token).balanceOf(address(this));
        if (afterwards < before || afterwards - before != amount) {
            revert UnsupportedToken(token, afterwards < before ? 0 : afterwards - before, amount);
        }
    }

    /// Pays `amount` of channel `id` to `to`; what is not delivered stays claimable by `to`,
    /// so one recipient can never block the other's payout. A token payout counts as
    /// delivered by how much the contract's balance fell, not by the token's return value: a
    /// token that moves the funds and then returns `false` (or reverts after moving part)
    /// is credited only with what did not move, never paid twice.
    function _push(bytes32 id, address token, address to, uint256 amount) private {
        if (amount == 0) return;
        uint256 missing;
        if (token == address(0)) {
            if (!_call(to, amount, NATIVE_PAYOUT_GAS, "")) missing = amount;
        } else {
            uint256 moved = _transferOut(token, to, amount);
            missing = moved >= amount ? 0 : amount - moved;
        }
        if (missing != 0) {
            unclaimed[token][to] += missing;
            emit PayoutDeferred(id, token, to, missing);
        }
    }

    /// Asks `token` to transfer `amount` to `to` and returns how much the contract's balance
    /// fell: the token's return value and revert are ignored, only the balance counts.
    function _transferOut(address token, address to, uint256 amount) private returns (uint256 moved) {
        uint256 before = IERC20(token).balanceOf(address(this));
        _call(token, 0, gasleft(), abi.encodeCall(IERC20.transfer, (to, amount)));
        uint256 afterwards = IERC20(token).balanceOf(address(this));
        moved = afterwards < before ? before - afterwards : 0;
    }

    /// A call that never copies return data into memory, so a callee cannot make the caller
    /// pay for a huge return (a return-data bomb). Returns whether it succeeded.
    function _call(address target, uint256 value, uint256 gasLimit, bytes memory data) private returns (bool ok) {
        assembly ("memory-safe") {
            ok := call(gasLimit, target, value, add(data, 0x20), mload(data), 0, 0)
        }
    }

    function _max(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a : b;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
