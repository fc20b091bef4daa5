// Test runner configuration: unit tests (test/unit) and end-to-end tests on the real labs (test/e2e: the TOS lab,
// test/e2e-kubeadm: the kubeadm lab), files run one at a time because e2e tests share a lab's loopback addresses and etcd cluster.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
