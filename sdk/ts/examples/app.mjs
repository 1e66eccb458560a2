// A client app: transfer tokens through the contract's ABI, then read the balance back with a
// proof checked against the genesis file alone. Usage: node app.mjs TOKEN_ADDRESS
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { Client, Contract, Key, concat, genesisValidators, toHex, utf8, verifiedRead } from "@phalanx/client";

const home = process.env.PHALANX_HOME ?? `${homedir()}/.phalanx`;
const rpc = new Client(process.env.PHALANX_RPC ?? "http://127.0.0.1:8645");
const me = Key.fromKeyFile(readFileSync(`${home}/dev.key`, "utf8"));
const genesis = genesisValidators(readFileSync(`${home}/config/genesis.json`, "utf8"));

const token = await Contract.at(rpc, genesis.chainId, process.argv[2]);
const friend = Key.generate().address;
const receipt = await token.call(me, "transfer", { to: toHex(friend), amount: "42" });
console.log(`transfer: ${receipt.status} at height ${receipt.height}, gas ${receipt.gas_used}`);

// The token keeps balances under "b" ++ account; the node proves the value, we check it.
const proven = await verifiedRead(rpc, genesis, token.address, concat(utf8("b"), friend));
console.log(`verified against genesis: balance ${new TextDecoder().decode(proven.value)} at height ${proven.height}`);
