package io.ublk.s3;

import java.util.Comparator;

/**
 * Keys in UTF-8 binary order, the order S3 lists in. Comparing code points gives the same order
 * as comparing UTF-8 bytes; {@link String#compareTo} does not (it compares UTF-16 units, which
 * puts supplementary characters before U+E000..U+FFFF).
 */
final class KeyOrder implements Comparator<String> {
    static final KeyOrder INSTANCE = new KeyOrder();

    private KeyOrder() {}

    @Override
    public int compare(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
