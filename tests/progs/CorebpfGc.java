/* ugc test: allocate, then force a collection, every 200 ms. */
public class CorebpfGc {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        for (;;) {
            byte[][] junk = new byte[64][];
            for (int i = 0; i < junk.length; i++) junk[i] = new byte[16384];
            System.gc();
            Thread.sleep(200);
        }
    }
}
