import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("istio-multicluster", { policies });
