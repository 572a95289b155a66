/**
 * The web page's views in real headless Chromium at a phone's 390 × 844 and a TV's 1920 × 1080
 * (issue #12): thumbnails and durations in the library, the music browser (artist → album →
 * track) playing an album in order through the play queue, video folders with poster frames, a
 * photo grid whose photo opens full size with its EXIF date; nothing wider than the screen; no
 * tag becomes markup. Real media: Debian's drascula-music tracks (tagged by ffmpeg), a
 * lebiniou-data clip and picture.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { SMALL_CLIP, VIDEO_DIR, startNode, tempDir } from '../helpers/nodes.ts'
import { jpegWithExifDate, mp3WithCover, taggedCopy } from '../helpers/tagged-media.ts'
import { browser, startWeb } from './helpers.ts'

const PICTURE = '/usr/share/lebiniou/images/covid-19/coronavirus.jpg' // 615 × 384
const EVIL_TAG = '<img src=x onerror=alert(1)>'

test('Chromium at 390 px: thumbnails, music by artist and album, an album played in order, video posters, a photo opened full size; usable on a TV', async (t) => {
  const share = await tempDir(t)
  await mp3WithCover(share, 'Tacvba/Re/01 - El Aparato.mp3', PICTURE, { artist: 'Café Tacvba', album: 'Re', title: 'El Aparato', track: '1', date: '1994' })
  await taggedCopy(share, 'Tacvba/Re/02 - La Ingrata.ogg', { artist: 'Café Tacvba', album: 'Re', title: 'La Ingrata', track: '2', date: '1994' })
  await taggedCopy(share, 'odd/evil.ogg', { artist: EVIL_TAG, album: EVIL_TAG, title: EVIL_TAG })
  await fs.mkdir(path.join(share, 'Holiday'))
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, 'Holiday', 'beach.mp4'))
  await jpegWithExifDate(PICTURE, path.join(share, 'Holiday', 'photo.jpg'), '2019:07:14 10:22:33')
  const node = await startNode(t, { shares: [share] })
  await node.library.whenHashed()
  await node.library.metadata!.idle()
  const web = await startWeb(t, node)
  const { page, dialogs, errors } = await browser(t, { width: 390, height: 844 })
  await page.goto(web.url + '/')
  const fits = (): Promise<boolean> => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)

  t.true(await fits(), 'the library fits 390 px')
  const clipRow = page.locator('#library tr').filter({ has: page.locator('td.name', { hasText: 'Holiday/beach.mp4' }) })
  await clipRow.locator('img.thumb').scrollIntoViewIfNeeded()
  await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#library img.thumb')].some((i) => i.naturalWidth > 0), undefined, { timeout: 30_000 })
  t.truthy(await clipRow.locator('td.dur').textContent(), 'the clip shows its duration')
  t.regex(
    (await page
      .locator('#library tr')
      .filter({ has: page.locator('td.name', { hasText: 'La Ingrata' }) })
      .locator('td.dur')
      .textContent()) ?? '',
    /^0:0\d$/
  )

  // Music: artist -> album -> play the album in order.
  await page.click('nav button[data-view=music]')
  const artists = await page.$$eval('#music-list button.artist .title', (els) => els.map((e) => e.textContent))
  t.deepEqual(artists.sort(), [EVIL_TAG, 'Café Tacvba'].sort())
  await page.click('#music-list button.artist:has-text("Café Tacvba")')
  await page.click('#music-list button.album:has-text("Re")')
  t.deepEqual(await page.$$eval('#music-list ol.tracks button', (els) => els.map((e) => e.textContent)), ['El Aparato', 'La Ingrata'])
  await page.waitForFunction(() => (document.querySelector('.album-head img.cover') as HTMLImageElement | null)?.naturalWidth === 320, undefined, { timeout: 30_000 })
  t.true(await fits(), 'the album view fits 390 px')
  await page.click('button.play-album')
  t.is(await page.textContent('#now'), 'El Aparato')
  t.is(await page.textContent('#now-info'), 'Café Tacvba · Re · 0:03')
  t.is(await page.locator('#queue li').count(), 2)
  // The 3-s first track ends and the queue goes on to the second.
  await page.waitForFunction(() => document.getElementById('now')?.textContent === 'La Ingrata', undefined, { timeout: 30_000 })
  await page.waitForFunction(() => (document.getElementById('audio') as HTMLAudioElement).currentTime > 0, undefined, { timeout: 30_000 })
  t.is(await page.textContent('#queue li.current'), 'La Ingrata')

  // Videos by folder, with a poster.
  await page.click('nav button[data-view=videos]')
  t.is(await page.textContent('#video-list h3'), 'Holiday')
  await page.waitForFunction(() => (document.querySelector('#video-list img.thumb') as HTMLImageElement | null)?.naturalWidth === 320, undefined, { timeout: 30_000 })
  await page.click('#video-list button.tile')
  await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 0, undefined, { timeout: 30_000 })
  t.true(await page.$eval('#audio', (a) => (a as HTMLAudioElement).hidden))

  // Photos: the grid, then full size with its date.
  await page.click('nav button[data-view=photos]')
  await page.click('#photo-grid button.tile')
  await page.waitForFunction(() => (document.getElementById('viewer-img') as HTMLImageElement).naturalWidth > 0, undefined, { timeout: 30_000 })
  t.deepEqual(await page.$eval('#viewer-img', (i) => [(i as HTMLImageElement).naturalWidth, (i as HTMLImageElement).naturalHeight]), [615, 384], 'the photo itself, not its thumbnail')
  t.regex((await page.textContent('#viewer-info')) ?? '', /615×384 · 2019-07-14 10:22:33/)
  t.true(await page.$eval('#viewer-img', (i) => (i as HTMLImageElement).getBoundingClientRect().width <= 390))
  await page.keyboard.press('Escape')
  t.true(await page.$eval('#viewer', (v) => (v as HTMLElement).hidden))

  // A TV: larger type, more tiles a row, still nothing wider than the screen.
  await page.setViewportSize({ width: 1920, height: 1080 })
  t.is(await page.$eval('body', (b) => getComputedStyle(b).fontSize), '22px')
  t.true(await fits())

  t.is(await page.locator('img[src="x"]').count(), 0, 'no tag became an <img>')
  t.deepEqual(dialogs, [], 'no script ran from a tag')
  // Only files that may have a picture are asked for one: no 404 in the console.
  t.deepEqual(errors, [])
})
